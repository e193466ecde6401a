// `npm run fuzz`: the fuzz targets of tests/hardening (every parser of untrusted input) with many more
// cases than `npm test` runs, and a fresh seed each time. Prints a summary; exits 1 on a failure,
// with the smallest failing input fast-check found and the seed to replay it. A case fails when it
// throws anything but a BimambaError or takes over MAX_CASE_MS; the run fails when its peak memory
// (RSS) rises more than MAX_CASE_BYTES above what it was once the targets were built, which no case
// can do without passing that bound itself.
//
//   npx tsx scripts/fuzz.ts [--cases 200000] [--seed N] [--only "pickle"]
import fc from 'fast-check';
import { MAX_CASE_BYTES, MAX_CASE_MS, runCase } from '../tests/hardening/check.js';
import { buildTargets } from '../tests/hardening/targets.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const totalCases = Number(arg('cases') ?? 200_000);
const seed = Number(arg('seed') ?? Math.floor(Math.random() * 2 ** 31));
const only = arg('only');
if (!Number.isInteger(totalCases) || totalCases < 1 || !Number.isInteger(seed)) {
  console.error('usage: tsx scripts/fuzz.ts [--cases N] [--seed N] [--only TARGET]');
  process.exit(2);
}

const built = await buildTargets();
const rssMb = () => process.resourceUsage().maxRSS / 1024; // peak resident memory so far, MB
const baselineMb = rssMb();
const targets = built.targets.filter((t) => !only || t.name === only);
// each target gets the same multiple of its share in `npm test`
const share = targets.reduce((n, t) => n + t.testRuns, 0);
const quiet = console.warn;
console.warn = () => {}; // the tokenizer library warns about some malformed inputs; the counts say enough

interface Row { name: string; cases: number; seconds: number; slowestMs: number; failure: string | null }
const rows: Row[] = [];
const t0 = performance.now();
for (const target of targets) {
  const cases = Math.ceil((totalCases * target.testRuns) / share);
  let slowestMs = 0;
  const start = performance.now();
  const details = await fc.check(
    fc.asyncProperty(target.input, async (input) => {
      const t = performance.now();
      await runCase(target, input);
      slowestMs = Math.max(slowestMs, performance.now() - t);
    }),
    { numRuns: cases, seed },
  );
  const failure = details.failed ? `${String(details.errorInstance)}\n    input: ${fc.stringify(details.counterexample).slice(0, 400)}` : null;
  rows.push({ name: target.name, cases: details.numRuns, seconds: (performance.now() - start) / 1000, slowestMs, failure });
  process.stderr.write(`${target.name}: ${details.numRuns} cases${failure ? ', FAILED' : ''}\n`);
}
built.dispose();
console.warn = quiet;

const total = rows.reduce((n, r) => n + r.cases, 0);
const peakMb = rssMb();
if (peakMb - baselineMb > MAX_CASE_BYTES / 2 ** 20) {
  rows.push({ name: 'memory', cases: 0, seconds: 0, slowestMs: 0, failure: `peak RSS rose ${(peakMb - baselineMb).toFixed(0)} MB during the run, over ${MAX_CASE_BYTES / 2 ** 20} MB` });
}
const failures = rows.filter((r) => r.failure);
console.log(`\nfuzz summary (seed ${seed}; a case may take at most ${MAX_CASE_MS} ms)`);
console.log('target                        cases   seconds  slowest case (ms)  failures');
for (const r of rows) {
  console.log(`${r.name.padEnd(28)} ${String(r.cases).padStart(7)} ${r.seconds.toFixed(1).padStart(9)} ${r.slowestMs.toFixed(1).padStart(18)} ${r.failure ? 1 : 0}`);
}
console.log(`${'total'.padEnd(28)} ${String(total).padStart(7)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(9)} ${''.padStart(18)} ${failures.length}`);
console.log(`peak RSS ${peakMb.toFixed(0)} MB, ${(peakMb - baselineMb).toFixed(0)} MB above the ${baselineMb.toFixed(0)} MB after setup (limit ${MAX_CASE_BYTES / 2 ** 20} MB)`);
for (const r of failures) console.log(`\nFAILED ${r.name}: ${r.failure}`);
if (failures.length) console.log(`\nreplay with: npx tsx scripts/fuzz.ts --seed ${seed} --only "<target>"`);
process.exit(failures.length ? 1 : 0);
