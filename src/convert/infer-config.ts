// The configuration of a checkpoint that comes without a config.json (the official Bi-Mamba weights are
// only a state dict), read off its tensor shapes. What shapes cannot tell takes the default of mamba_ssm's
// module, as the release's own loader builds the model with those defaults:
//
//   d_model, vocab     embedding                  [vocab, d_model]   (vocab = its rows, unless a tokenizer is
//                                                                   given whose ids fall short of them by less
//                                                                   than the rows' padding multiple: then those
//                                                                   rows are padding, never sampled or scored)
//   n_layer            the layers.<i>. keys       0 .. n_layer-1
//   Mamba-2:
//   nheads             A_log                      [nheads]
//   d_inner            out_proj.weight            [d_model, d_inner];   headdim = d_inner / nheads
//   ngroups * d_state  conv1d.weight              [d_inner + 2*ngroups*d_state, 1, d_conv]
//                      (in_proj.weight must then have 2*d_inner + 2*ngroups*d_state + nheads rows);
//                      shapes only give the product: ngroups is mamba_ssm's default 1
//   Mamba-1:
//   d_inner, d_state   A_log                      [d_inner, d_state]
//   dt_rank            dt_proj.weight             [d_inner, dt_rank]
//   d_conv             conv1d.weight's last dimension;   biases: whether conv1d.bias / in_proj.bias exist
//   tie_embeddings     no lm_head.weight, or one equal to the embedding
//   eps                1e-5 (mamba_ssm's RMSNorm default)
// Binarization (wscale / wbias) is decided later, as for any checkpoint.
import { BimambaError } from '../errors.js';
import { paddingRows } from '../format/padding.js';
import type { StoredTensor } from '../format/torch.js';
import type { ConfigDraft, Layout } from './config.js';

type Tensors = Map<string, { key: string; tensor: StoredTensor }>;

/** One value of the config and where it came from, for the conversion log and `bimamba info`. */
export interface InferredValue {
  field: string;
  value: number | boolean;
  /** Where it came from: "from <tensor> [<shape>]", or whose default it is. */
  from: string;
}

const NEED_CONFIG = 'give the model\'s config with --config FILE';

function fail(what: string): never {
  throw new BimambaError('BAD_CHECKPOINT', `no config.json, and the tensor shapes cannot tell ${what}: ${NEED_CONFIG}`);
}

/** Infer the config from the tensors (normalised names, src/convert/names.ts). */
export async function inferConfig(tensors: Tensors, tokenizerIds: number | null = null): Promise<{ layout: Layout; draft: ConfigDraft; inferred: InferredValue[] }> {
  const inferred: InferredValue[] = [];
  const describe = (t: { key: string; tensor: StoredTensor }) => `${t.key} [${t.tensor.shape.join(', ')}]`;
  const get = (name: string, rank: number, what: string) => {
    const t = tensors.get(name);
    if (!t) fail(`${what} (there is no tensor for ${name})`);
    if (t.tensor.shape.length !== rank) fail(`${what}: ${describe(t)} should have ${rank} dimension(s)`);
    return t;
  };
  const note = <T extends number | boolean>(field: string, value: T, from: string): T => { inferred.push({ field, value, from }); return value; };
  const fromTensor = <T extends number | boolean>(field: string, value: T, t: { key: string; tensor: StoredTensor }) => note(field, value, `from ${describe(t)}`);
  const DEFAULT = "mamba_ssm's default";

  const embedding = get('embedding', 2, 'the vocabulary and d_model');
  const layout: Layout = embedding.key.endsWith('embeddings.weight') ? 'hf' : 'mamba_ssm';
  const embeddingRows = embedding.tensor.shape[0];
  const padding = tokenizerIds === null ? 0 : paddingRows(embeddingRows, tokenizerIds);
  const vocab_size = padding > 0
    ? note('vocab_size', tokenizerIds!, `from the tokenizer's ${tokenizerIds} ids; the other ${padding} of ${describe(embedding)}'s rows are padding, never sampled nor counted in ppl`)
    : fromTensor('vocab_size', embeddingRows, embedding);
  const d_model = fromTensor('d_model', embedding.tensor.shape[1], embedding);

  const layerIds = new Set<number>();
  for (const name of tensors.keys()) {
    const m = /^layers\.(\d+)\./.exec(name);
    if (m) layerIds.add(Number(m[1]));
  }
  const n_layer = layerIds.size;
  if (n_layer === 0) fail('the number of layers (no layers.<i>. tensors)');
  for (let i = 0; i < n_layer; i++) if (!layerIds.has(i)) fail(`the number of layers: layer ${i} is missing but layer ${Math.max(...layerIds)} exists`);
  note('n_layer', n_layer, `from the tensors of layers 0..${n_layer - 1}`);

  const aLog = tensors.get('layers.0.A_log');
  if (!aLog) fail('the architecture (no layers.0.A_log)');
  const conv = get('layers.0.conv1d.weight', 3, 'd_conv');
  const d_conv = fromTensor('d_conv', conv.tensor.shape[2], conv);
  const convChannels = conv.tensor.shape[0];
  const convBias = tensors.get('layers.0.conv1d.bias');
  const conv_bias = note('conv_bias', convBias !== undefined, convBias ? `from ${describe(convBias)}` : `no ${conv.key.replace(/weight$/, 'bias')}`);
  const inProj = get('layers.0.in_proj.weight', 2, 'the in_proj size');
  const bias = tensors.has('layers.0.in_proj.bias');
  note('in_proj_bias', bias, bias ? `from ${describe(tensors.get('layers.0.in_proj.bias')!)}` : `no ${inProj.key.replace(/weight$/, 'bias')}`);
  const tie_embeddings = await tiedHead(tensors, embedding, note);
  const common = {
    d_model, n_layer, vocab_size, pad_vocab_size_multiple: padding > 0 ? embeddingRows : 1, // padded to the rows exactly
    norm_eps: note('norm_eps', 1e-5, DEFAULT),
    tie_embeddings, bos_token_id: null, eos_token_id: null, pad_token_id: null,
    d_conv, conv_bias, in_proj_bias: bias, out_proj_bias: bias,
  };

  if (aLog.tensor.shape.length === 2) {
    const d_inner = fromTensor('d_inner', aLog.tensor.shape[0], aLog);
    const d_state = fromTensor('d_state', aLog.tensor.shape[1], aLog);
    const dtProj = get('layers.0.dt_proj.weight', 2, 'dt_rank');
    const dt_rank = fromTensor('dt_rank', dtProj.tensor.shape[1], dtProj);
    if (convChannels !== d_inner) fail(`the mixer width: ${describe(conv)} has ${convChannels} channels but A_log says d_inner is ${d_inner}`);
    return {
      layout, inferred,
      draft: {
        ...common, arch: 'mamba1', d_inner, d_state, dt_rank, headdim: 0, nheads: 0, ngroups: 0,
        norm_before_gate: false, time_step_limit: [0, null], mixer_norm_eps: common.norm_eps,
      },
    };
  }
  if (aLog.tensor.shape.length !== 1) fail(`the architecture: ${describe(aLog)} is neither Mamba-1's [d_inner, d_state] nor Mamba-2's [nheads]`);

  const nheads = fromTensor('nheads', aLog.tensor.shape[0], aLog);
  const outProj = get('layers.0.out_proj.weight', 2, 'd_inner');
  const d_inner = fromTensor('d_inner', outProj.tensor.shape[1], outProj);
  if (d_inner % nheads !== 0) fail(`headdim: d_inner ${d_inner} (${describe(outProj)}) is not a multiple of nheads ${nheads} (${describe(aLog)})`);
  const headdim = note('headdim', d_inner / nheads, 'd_inner / nheads');
  const groupsTimesState = (convChannels - d_inner) / 2;
  if (!Number.isInteger(groupsTimesState) || groupsTimesState <= 0) fail(`d_state: ${describe(conv)} should have d_inner + 2*ngroups*d_state channels, with d_inner ${d_inner}`);
  const rows = 2 * d_inner + 2 * groupsTimesState + nheads;
  if (inProj.tensor.shape[0] !== rows) {
    fail(`the in_proj layout: ${describe(inProj)} should have 2*d_inner + 2*ngroups*d_state + nheads = ${rows} rows (a partial SSM, d_ssm < d_inner, is not supported)`);
  }
  const ngroups = note('ngroups', 1, `${DEFAULT}; the shapes give only ngroups*d_state = ${groupsTimesState}`);
  const d_state = note('d_state', groupsTimesState, `from ${describe(conv)} and ${describe(inProj)}`);
  if (!tensors.has('layers.0.mixer_norm.weight')) fail('the gated norm (no mixer.norm.weight; Mamba-2 without it is not supported)');
  return {
    layout, inferred,
    draft: {
      ...common, arch: 'mamba2', d_inner, d_state, dt_rank: 0, headdim, nheads, ngroups,
      norm_before_gate: note('norm_before_gate', false, DEFAULT),
      time_step_limit: [0, null], mixer_norm_eps: 1e-5,
    },
  };
}

/** The head is tied when there is no lm_head.weight, or when it holds the embedding's values (torch saves both names of a tied model). */
async function tiedHead(
  tensors: Tensors,
  embedding: { key: string; tensor: StoredTensor },
  note: (field: string, value: boolean, from: string) => boolean,
): Promise<boolean> {
  const head = tensors.get('lm_head');
  if (!head) return note('tie_embeddings', true, 'no lm_head.weight');
  const same = head.tensor.dtype === embedding.tensor.dtype && head.tensor.shape.join() === embedding.tensor.shape.join() &&
    equalBytes(await head.tensor.read(), await embedding.tensor.read());
  return note('tie_embeddings', same, same ? `${head.key} equals ${embedding.key}` : `${head.key} differs from ${embedding.key}`);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One line per inferred value: "d_model 1536 (from backbone.embedding.weight [32000, 1536])". */
export function formatInferred(inferred: InferredValue[]): string[] {
  return inferred.map((v) => `${v.field} ${v.value} (${v.from})`);
}
