// Zero-shot multiple choice as lm-evaluation-harness scores it: each choice's log-likelihood as the
// continuation of the context (context and continuation tokenized as the harness's _encode_pair does:
// the context's trailing spaces move to the continuation, the continuation's tokens are those of
// context + continuation past the context's), `acc` the argmax of the log-likelihoods, `acc_norm` the
// argmax of the log-likelihoods divided by each choice's length in characters.
import { BimambaError } from '../errors.js';
import { logNormalizer } from '../generate/logprobs.js';
import type { Model } from '../model/model.js';

/** One question: the context, the choices (continuations) and the index of the right one. */
export interface MultipleChoiceItem {
  context: string;
  choices: string[];
  gold: number;
}

export interface MultipleChoiceResult {
  n: number;
  acc: number;
  accStderr: number;
  accNorm: number;
  accNormStderr: number;
}

/** Token ids of context and continuation, as the harness pairs them. */
export function encodePair(model: Model, context: string, continuation: string): { context: number[]; continuation: number[] } {
  const tok = model.tokenizer;
  if (!tok) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer, so it cannot read text');
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    continuation = context.slice(context.length - spaces) + continuation;
    context = context.slice(0, context.length - spaces);
  }
  const bos = model.addBosByDefault && model.bosTokenId !== null ? [model.bosTokenId] : [];
  const whole = [...bos, ...tok.encode(context + continuation)];
  const ctx = [...bos, ...tok.encode(context)];
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** Log-likelihood of each choice after the context: the context is read once, each choice in a fork of it. */
export function choiceLoglikelihoods(model: Model, item: MultipleChoiceItem): number[] {
  const pairs = item.choices.map((choice) => ({ choice, ...encodePair(model, item.context, choice) }));
  const context = pairs[0].context; // the same for every choice: only the continuation's tokens differ
  if (context.length === 0) throw new BimambaError('BAD_ARGUMENT', 'a context is empty (and the model adds no BOS): nothing to condition on');
  const base = model.createSession();
  try {
    const contextLogits = base.feed(context);
    return pairs.map(({ choice, continuation }) => {
      if (continuation.length === 0) throw new BimambaError('BAD_ARGUMENT', `choice ${JSON.stringify(choice)} adds no token to its context`);
      const s = base.fork();
      try {
        let ll = contextLogits[continuation[0]] - logNormalizer(contextLogits);
        if (continuation.length > 1) {
          s.feed(continuation.slice(0, -1), (t, logits) => {
            const next = continuation[t - context.length + 1];
            ll += logits[next] - logNormalizer(logits);
          });
        }
        return ll;
      } finally {
        s.dispose();
      }
    });
  } finally {
    base.dispose();
  }
}

const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

/** Parse a JSONL task file: one { context, choices, gold } per line (blank lines skipped). */
export function readTasks(text: string, where: string): MultipleChoiceItem[] {
  const items: MultipleChoiceItem[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const at = `${where} line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new BimambaError('BAD_FORMAT', `${at}: not JSON`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || typeof o.context !== 'string') throw new BimambaError('BAD_FORMAT', `${at}: needs "context" (a string)`);
    if (!Array.isArray(o.choices) || o.choices.length < 2 || !o.choices.every((c) => typeof c === 'string' && c.length > 0)) throw new BimambaError('BAD_FORMAT', `${at}: needs "choices" (at least 2 non-empty strings)`);
    if (!Number.isInteger(o.gold) || (o.gold as number) < 0 || (o.gold as number) >= o.choices.length) throw new BimambaError('BAD_FORMAT', `${at}: "gold" must be the index of the right choice (0 to ${o.choices.length - 1})`);
    items.push({ context: o.context, choices: o.choices as string[], gold: o.gold as number });
  }
  if (items.length === 0) throw new BimambaError('BAD_FORMAT', `${where}: no questions`);
  return items;
}

/** acc and acc_norm over `items`, with the standard error of each mean (as the harness reports). */
export async function evaluateMultipleChoice(model: Model, items: MultipleChoiceItem[], onItem?: (done: number) => void): Promise<MultipleChoiceResult> {
  let acc = 0;
  let accNorm = 0;
  for (const [i, item] of items.entries()) {
    const ll = choiceLoglikelihoods(model, item);
    if (argmax(ll) === item.gold) acc++;
    if (argmax(ll.map((x, k) => x / item.choices[k].length)) === item.gold) accNorm++;
    onItem?.(i + 1);
    await new Promise((r) => setTimeout(r, 0));
  }
  const n = items.length;
  const stderr = (k: number) => (n > 1 ? Math.sqrt(((k / n) * (1 - k / n)) / (n - 1)) : 0);
  return { n, acc: acc / n, accStderr: stderr(acc), accNorm: accNorm / n, accNormStderr: stderr(accNorm) };
}
