// Tensor names: from the checkpoint's (HF transformers or mamba_ssm) to the .bimamba file's.
//   backbone.embedding(s).weight          -> embedding
//   backbone.layers.i.norm.weight         -> layers.i.norm.weight
//   backbone.layers.i.mixer.norm.weight   -> layers.i.mixer_norm.weight   (Mamba-2 gated norm)
//   backbone.layers.i.mixer.<rest>        -> layers.i.<rest>
//   backbone.norm_f.weight                -> norm_f.weight
//   lm_head.weight                        -> lm_head
// Bi-Mamba's `in_proj.wscale` / `in_proj.wbias` keep their names here; the converter turns them into
// `.alpha` / `.beta`.

/** What may follow `mixer.` in a checkpoint (after renaming the gated norm). */
const MIXER_TENSORS = new Set([
  'in_proj.weight', 'in_proj.bias', 'in_proj.wscale', 'in_proj.wbias',
  'out_proj.weight', 'out_proj.bias', 'out_proj.wscale', 'out_proj.wbias',
  'conv1d.weight', 'conv1d.bias',
  'x_proj.weight', 'dt_proj.weight', 'dt_proj.bias',
  'dt_bias', 'A_log', 'D', 'mixer_norm.weight',
]);

/** The normalised name of a checkpoint tensor, or null if the model has no use for it. */
export function normaliseTensorName(source: string): string | null {
  if (source === 'lm_head.weight') return 'lm_head';
  const name = source.startsWith('backbone.') ? source.slice('backbone.'.length) : source;
  if (name === 'embedding.weight' || name === 'embeddings.weight') return 'embedding';
  if (name === 'norm_f.weight') return 'norm_f.weight';
  const m = /^layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const [, layer, rest] = m;
  if (rest === 'norm.weight') return `layers.${layer}.norm.weight`;
  if (!rest.startsWith('mixer.')) return null;
  const inner = rest === 'mixer.norm.weight' ? 'mixer_norm.weight' : rest.slice('mixer.'.length);
  return MIXER_TENSORS.has(inner) ? `layers.${layer}.${inner}` : null;
}

/** The inverse, for error messages: what a normalised tensor is called in a checkpoint of `layout`. */
export function checkpointName(normalised: string, layout: 'hf' | 'mamba_ssm'): string {
  if (normalised === 'embedding') return layout === 'hf' ? 'backbone.embeddings.weight' : 'backbone.embedding.weight';
  if (normalised === 'lm_head') return 'lm_head.weight';
  if (normalised === 'norm_f.weight') return 'backbone.norm_f.weight';
  const m = /^layers\.(\d+)\.(.+)$/.exec(normalised);
  if (!m) return normalised;
  const [, layer, rest] = m;
  if (rest === 'norm.weight') return `backbone.layers.${layer}.norm.weight`;
  return `backbone.layers.${layer}.mixer.${rest === 'mixer_norm.weight' ? 'norm.weight' : rest}`;
}
