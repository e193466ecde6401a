// Two models' decode speed side by side, for differences smaller than this machine's noise: both are
// loaded in one process (built package) and fed 32-token greedy batches in turn, so that a busy spell
// slows both alike; prints each one's best and median tok/s over the batches.
//   node bench/decode-ab.mjs A.bimamba B.bimamba [ROUNDS=20] [THREADS=1]
import { loadModel } from '../dist/index.js';
const files = process.argv.slice(2, 4), rounds = Number(process.argv[4] ?? 20), threads = Number(process.argv[5] ?? 1);
const models = await Promise.all(files.map((f) => loadModel(f, { threads })));
const sessions = models.map((m) => { const s = m.createSession(); s.feed(Array.from({ length: 64 }, (_, i) => (i * 37) % 1000 + 3)); return s; });
const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };
const last = sessions.map(() => 5), rates = files.map(() => []);
for (let r = 0; r < rounds; r++) for (let i = 0; i < files.length; i++) {
  const t = performance.now();
  for (let j = 0; j < 32; j++) last[i] = argmax(sessions[i].feed([last[i]]));
  rates[i].push(32000 / (performance.now() - t));
}
for (let i = 0; i < files.length; i++) {
  const s = [...rates[i]].sort((a, b) => a - b);
  console.log(`${files[i]}: ${threads} thread(s), decode tok/s max ${s[s.length - 1].toFixed(1)}, median ${s[s.length >> 1].toFixed(1)} over ${rounds} batches of 32`);
}
