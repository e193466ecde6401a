// The A/B of bench/sampling-ab.ts, shared by its Node run and its Web Worker (bench/sampling-ab-worker.js):
// blocks of greedy and sampled model.generate() in turn, each from a fork of one fed session, so that a
// busy spell of the shared machine slows both alike. Plain JS, so that a browser runs it as it is.
//
// Each block's session is instrumented from outside (its own methods wrapped, the package untouched), so a
// token's time splits into: the forward pass (session.advance), the sampling step (from samplingLogits,
// where generate() takes the logits, to the advance of the sampled token: the copy into writable logits,
// the sampler, the decoder and the stop matcher), and the rest (yields to the host, the async generator).

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A session whose forward passes and sampling steps are timed, into `t` (ms). */
function instrument(session, t) {
  const samplingLogits = session.samplingLogits;
  const advance = session.advance;
  let stepStart = 0;
  session.samplingLogits = function (n, writable) {
    stepStart = performance.now();
    const logits = samplingLogits.call(this, n, writable);
    t.copy += performance.now() - stepStart;
    return logits;
  };
  session.advance = function (tokens, onLogits) {
    const start = performance.now();
    if (stepStart) t.step += start - stepStart;
    stepStart = 0;
    advance.call(this, tokens, onLogits);
    t.forward += performance.now() - start;
  };
}

/** FNV-1a over token ids: the sampled sequences of a run, to compare before / after a change. */
function fnv(tokens, h = 0x811c9dc5) {
  for (const x of tokens) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h;
}

/**
 * `rounds` rounds of one greedy and one sampled block of `block` tokens (the order alternates per round),
 * after a warm-up round. Returns per mode: median tok/s, and median ms a token of the forward pass, the
 * sampling step (and of it, the copy of the logits) and the rest; the sampled/greedy ratio of the medians,
 * of the per-round pairs, and of the parts (one forward time for both); and a hash of the sampled tokens (the seeds are fixed: 1, 2, ...).
 */
export async function samplingAB(model, { prompt, rounds, block, sampled }) {
  const base = model.createSession();
  base.feed(prompt);
  const modes = { greedy: { temperature: 0 }, sampled };
  const per = { greedy: [], sampled: [] };
  let hash = 0x811c9dc5;
  const runBlock = async (mode, seed) => {
    const s = base.fork();
    const t = { forward: 0, step: 0, copy: 0 };
    instrument(s, t);
    const tokens = [];
    const start = performance.now();
    for await (const item of model.generate([], { ...modes[mode], session: s, maxTokens: block, stopAtEos: false, seed })) tokens.push(item.token);
    const ms = performance.now() - start;
    s.dispose();
    if (tokens.length !== block) throw new Error(`generate() gave ${tokens.length} tokens, not ${block}`);
    return { ms, t, tokens };
  };
  await runBlock('greedy', 0); // warm-up: the engine optimises the sampler and the kernels
  await runBlock('sampled', 0);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? ['sampled', 'greedy'] : ['greedy', 'sampled'];
    for (const mode of order) {
      const { ms, t, tokens } = await runBlock(mode, r + 1);
      per[mode].push({ tok_s: (1000 * block) / ms, ms: ms / block, forward: t.forward / block, step: t.step / block, copy: t.copy / block });
      if (mode === 'sampled') hash = fnv(tokens, hash);
    }
  }
  base.dispose();
  const summary = (rows) => ({
    tok_s: median(rows.map((x) => x.tok_s)),
    ms_per_token: median(rows.map((x) => x.ms)),
    forward_ms: median(rows.map((x) => x.forward)),
    step_ms: median(rows.map((x) => x.step)),
    copy_ms: median(rows.map((x) => x.copy)),
    rest_ms: median(rows.map((x) => x.ms - x.forward - x.step)),
    runs: rows.map((x) => Number(x.tok_s.toFixed(2))),
  });
  const greedy = summary(per.greedy), samp = summary(per.sampled);
  return {
    threads: model.threads,
    rounds,
    block,
    greedy,
    sampled: samp,
    ratio: samp.tok_s / greedy.tok_s,
    ratio_of_pairs: median(per.sampled.map((x, i) => x.tok_s / per.greedy[i].tok_s)),
    // the same forward pass for both (the median over both modes' blocks), each mode's own sampling step and rest:
    // the ratio without the forward pass's drift, which the two modes share
    ratio_of_parts: ((forward) => (forward + greedy.step_ms + greedy.rest_ms) / (forward + samp.step_ms + samp.rest_ms))(
      median([...per.greedy, ...per.sampled].map((x) => x.forward)),
    ),
    sampled_tokens_hash: hash.toString(16).padStart(8, '0'),
  };
}
