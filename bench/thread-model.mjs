// What more threads would give, from what one and two threads measure (Amdahl's law with a bandwidth cap):
//   node bench/thread-model.mjs ONE.json TWO.json READ_GB_S [BYTES_PER_TOKEN_MB]
// ONE.json and TWO.json: run-model.mjs's JSON line at 1 and 2 threads (decode and prefill tok/s, and the
// serial µs per token: the time the calling thread feeds outside the pool's jobs). READ_GB_S: the read
// bandwidth by thread count, `1:37,2:46,4:60,...` (`tsx bench/machine.ts --read-threads 1,2,4,8,16`; a
// count not given takes the largest one below it). BYTES_PER_TOKEN_MB: what a decoded token reads and writes
// (default 223: the 780M's 143 MB of weights, and its bf16 state, 39.8 MB, read and written).
// For each phase, with T1 the µs per token on one thread and S the serial µs per token at two threads:
//   parallel work  W = T1 - S                     (what the pool's jobs do, on one thread)
//   hand-over      O = max(0, T2 - S - W / 2)      (what two threads lose to splitting: waits, wake-ups, imbalance;
//                                                 meaningful only where the second core was free for the 2-thread run)
//   n threads      T(n) = S + W / n  (amdahl), S + W / n + O  (with_handover: O taken as constant)
//   tok/s(n)       min(1e6 / T(n), bandwidth(n) / bytes per token)   (decode; prefill reads the weights once per 64 tokens)
// Prints one JSON line: the inputs and the predicted tok/s at 1, 2, 4, 8 and 16 threads, both ways.
import { readFileSync } from 'node:fs';

const [onePath, twoPath, bwArg, bytesArg] = process.argv.slice(2);
if (!bwArg) {
  console.error('usage: node bench/thread-model.mjs ONE.json TWO.json 1:GBs,2:GBs,... [BYTES_PER_TOKEN_MB]');
  process.exit(2);
}
const lastLine = (path) => JSON.parse(readFileSync(path, 'utf8').trim().split('\n').pop());
const one = lastLine(onePath), two = lastLine(twoPath);
const bandwidth = new Map(bwArg.split(',').map((p) => p.split(':').map(Number)));
const bwAt = (n) => bandwidth.get(Math.max(...[...bandwidth.keys()].filter((k) => k <= n)));
const decodeMb = Number(bytesArg ?? 223);
const CHUNK = 64; // prefill reads the weights once per chunk of this many tokens
const WEIGHTS_MB = 143;

const result = { inputs: { read_gb_s: Object.fromEntries(bandwidth), decode_mb_per_token: decodeMb }, predicted_tok_s: {} };
for (const phase of ['prefill', 'decode']) {
  const T1 = 1e6 / one[`${phase}_tok_s`], T2 = 1e6 / two[`${phase}_tok_s`];
  const S = two.serial_us_per_token[phase];
  const W = T1 - S, O = Math.max(0, T2 - S - W / 2);
  const mb = phase === 'decode' ? decodeMb : WEIGHTS_MB / CHUNK + (decodeMb - WEIGHTS_MB) / CHUNK; // state once per chunk too
  result.inputs[phase] = { t1_us: Math.round(T1), t2_us: Math.round(T2), serial_us: S, parallel_us: Math.round(W), handover_us: Math.round(O), serial_fraction: +(S / T1).toFixed(3) };
  const predict = (overhead) => Object.fromEntries([1, 2, 4, 8, 16].map((n) => {
    const compute = 1e6 / (n === 1 ? T1 : S + W / n + overhead);
    const cap = (1000 * bwAt(n)) / mb;
    return [n, +Math.min(compute, cap).toFixed(1)];
  }));
  result.predicted_tok_s[`${phase}_amdahl`] = predict(0);
  result.predicted_tok_s[`${phase}_with_handover`] = predict(O);
  result.predicted_tok_s[`${phase}_bandwidth_cap`] = Object.fromEntries([1, 2, 4, 8, 16].map((n) => [n, +((1000 * bwAt(n)) / mb).toFixed(0)]));
}
process.stdout.write(`${JSON.stringify(result)}\n`);
