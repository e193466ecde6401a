// Which embedding rows are padding: mamba_ssm rounds the vocabulary up to a multiple of
// pad_vocab_size_multiple (8 .. 128) so that the embedding's rows outnumber the tokenizer's ids (1000 ->
// 1008, 50277 -> 50280). The converter (a checkpoint without a config) and perplexity (a file converted
// with every row as vocabulary) tell padding from a tokenizer that is not the model's by this one rule.

/**
 * How many of `rows` are padding past a tokenizer's `ids`: the rows are `ids` rounded up to a multiple of
 * 8 .. 128. 0 when they are not such a rounding (no padding, or a tokenizer that is not the model's).
 */
export function paddingRows(rows: number, ids: number): number {
  let multiple = 1;
  while (multiple < 128 && rows % (2 * multiple) === 0) multiple *= 2;
  return multiple >= 8 && ids < rows && rows - ids < multiple ? rows - ids : 0;
}
