// The acceptance load: one server on 127.0.0.1 in this process; normal clients measured alone (idle),
// then again while 20 stalled readers and 20 store-flooding clients hammer it, each kind from its own
// loopback address (127.0.0.2, .3: Linux routes all of 127/8 to lo). The attackers run in a process of
// their own (load-attackers.mjs), as remote attackers would: this process runs the server and the normal
// clients only, the same idle and under load. The idle time is split, half before the attack and half
// after it, so a machine whose other work comes or goes during the run moves both sides of the
// comparison alike. Bounded: it stops by itself after about `idleMs + loadMs`. Run in the suite shortened (tests/server/load.test.ts) and in full, 60 s under
// load, by `npx tsx scripts/server-load.ts`.
import { fork } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Model } from '../../src/index.js';
import { createApp } from '../../src/server/app.js';
import { listen } from '../../src/server/node.js';
import { MemoryStore } from '../../src/server/store.js';

/** A full GC, so that heap figures compare live memory and not the collector's timing (no --expose-gc needed). */
function collectGarbage(): void {
  if (global.gc) return global.gc();
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export interface LoadOptions {
  model: Model;
  idleMs: number;
  loadMs: number;
  stalled?: number;
  flooders?: number;
  normal?: number;
  /**
   * What a normal client waits between a request's answer and its next request, in ms (default 0: one
   * request after another, a client that on its own keeps the server busy and so gets a fair share of it).
   */
  thinkMs?: number;
  /** Print the server's running/waiting counts and each normal request's time as it goes. */
  verbose?: boolean;
}

export interface LoadReport {
  /** The idle phases together; `before` and `after` the attack each alone. */
  idle: { count: number; p50: number; p99: number; p99Before: number; p99After: number };
  loaded: { count: number; p50: number; p99: number; failed: number };
  stalledOpened: number;
  stalledRefused: number;
  floodRequests: number;
  flood503: number;
  /** The attackers' requests per second (stalled readers' and flooders' together), as they counted them. */
  attackRate: number;
  /** Requests of the attackers that failed without an HTTP answer (a connection closed or refused). */
  attackErrors: number;
  /** The normal clients' loaded p99 over the idle one. */
  ratio: number;
  /** The machine's load average (1 min) at the start and at the end of the loaded phase. */
  loadAverage: { start: number; end: number };
  storeMaxBytes: number;
  storePeakBytes: number;
  storeMaxSessions: number;
  storePeakSessions: number;
  heapMiB: { start: number; peak: number; end: number };
  rssMiB: { start: number; peak: number; end: number };
}

/** What the attackers' process counted (load-attackers.mjs). */
interface AttackCounts {
  stalledOpened: number;
  stalledRefused: number;
  floodRequests: number;
  flood503: number;
  errors: number;
  ms: number;
}

const JSON_TYPE = { 'content-type': 'application/json' };

function post(port: number, from: string, body: unknown): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, localAddress: from, path: '/v1/completions', method: 'POST', agent: false, headers: JSON_TYPE }, resolve);
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('client timeout')));
    req.end(JSON.stringify(body));
  });
}

async function drain(res: http.IncomingMessage): Promise<void> {
  for await (const _ of res);
}

const healthOf = async (app: { fetch(r: Request): Response | Promise<Response> }) => (await (await app.fetch(new Request('http://127.0.0.1/health'))).json()) as { running: number; waiting: number };

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const stalledCount = o.stalled ?? 20;
  const flooderCount = o.flooders ?? 20;
  const normalCount = o.normal ?? 2;
  const snapshotBytes = o.model.createSession().snapshot().length;
  const maxSessions = 48;
  const store = new MemoryStore(maxSessions * snapshotBytes);
  const app = createApp({ model: o.model, store, maxActive: 4, maxWaiting: 32, maxActivePerClient: 1, maxWaitingPerClient: 4, maxSessionsPerOwner: 16, writeTimeout: 2, requestTimeout: 60 });
  const server = await listen(app, 0, '127.0.0.1', { maxConnectionsPerClient: 32 });
  const report: LoadReport = {
    idle: { count: 0, p50: 0, p99: 0, p99Before: 0, p99After: 0 },
    loaded: { count: 0, p50: 0, p99: 0, failed: 0 },
    stalledOpened: 0, stalledRefused: 0, floodRequests: 0, flood503: 0, attackRate: 0, attackErrors: 0, ratio: 0, loadAverage: { start: 0, end: 0 },
    storeMaxBytes: store.maxBytes, storePeakBytes: 0, storeMaxSessions: maxSessions, storePeakSessions: 0,
    heapMiB: { start: 0, peak: 0, end: 0 }, rssMiB: { start: 0, peak: 0, end: 0 },
  };
  let attackers: ReturnType<typeof fork> | null = null;
  let phase: 'idle' | 'load' | 'done' = 'idle';
  try {
    // each normal client from its own address (127.0.0.1, .4, .5, ...), as separate users are
    const normalAddress = (i: number) => (i === 0 ? '127.0.0.1' : `127.0.0.${i + 3}`);
    const normalRequest = async (from = '127.0.0.1'): Promise<number | null> => {
      const t0 = performance.now();
      try {
        const res = await post(server.port, from, { model: 'default', prompt: 'The queen said', max_tokens: 16, temperature: 0 });
        await drain(res);
        return res.statusCode === 200 ? performance.now() - t0 : null;
      } catch {
        return null;
      }
    };
    const normalLoop = async (from: string, into: number[], until: () => boolean, failed: { n: number }) => {
      while (!until()) {
        const ms = await normalRequest(from);
        if (ms === null) failed.n++;
        else into.push(ms);
        if (o.verbose && phase === 'load') console.error(`normal ${ms === null ? 'failed' : Math.round(ms)} ms`);
        if (o.thinkMs) await sleep(o.thinkMs);
      }
    };
    await normalRequest(); // warm up
    const idlePhase = async (into: number[]) => {
      const idleEnd = Date.now() + o.idleMs / 2;
      await Promise.all(Array.from({ length: normalCount }, (_, i) => normalLoop(normalAddress(i), into, () => Date.now() >= idleEnd, { n: 0 })));
    };
    const idleBefore: number[] = [];
    await idlePhase(idleBefore);

    collectGarbage();
    const sample = () => {
      const m = process.memoryUsage();
      report.heapMiB.peak = Math.max(report.heapMiB.peak, MiB(m.heapUsed));
      report.rssMiB.peak = Math.max(report.rssMiB.peak, MiB(m.rss));
      report.storePeakBytes = Math.max(report.storePeakBytes, store.bytes);
      report.storePeakSessions = Math.max(report.storePeakSessions, store.size);
      return m;
    };
    const m0 = sample();
    report.heapMiB.start = MiB(m0.heapUsed);
    report.rssMiB.start = MiB(m0.rss);
    let ticks = 0;
    const sampler = setInterval(() => {
      sample();
      if (o.verbose && ++ticks % 4 === 0) void Promise.resolve(app.fetch(new Request('http://127.0.0.1/health'))).then((r) => r.json()).then((h: unknown) => console.error(`health ${JSON.stringify(h)} store ${store.size}`));
    }, 250);

    phase = 'load';
    const loadEnd = Date.now() + o.loadMs;
    const over = () => Date.now() >= loadEnd;
    report.loadAverage.start = Math.round(loadavg()[0] * 100) / 100;
    // the attackers, in their own process (execArgv: none of this process's loaders; it is plain JS)
    const child = fork(new URL('./load-attackers.mjs', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    attackers = child;
    const attacked = new Promise<AttackCounts>((resolve, reject) => {
      child.once('message', (m) => resolve(m as AttackCounts));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the attackers' process exited (${code}) without a report`)));
    });
    child.send({ port: server.port, stalled: stalledCount, flooders: flooderCount, loadMs: o.loadMs });
    const loaded: number[] = [];
    const failed = { n: 0 };
    const [counts] = await Promise.all([
      attacked,
      sleep(1000).then(() => Promise.all(Array.from({ length: normalCount }, (_, i) => normalLoop(normalAddress(i), loaded, over, failed)))), // once the attack is on
    ]);
    clearInterval(sampler);
    phase = 'done';
    report.loadAverage.end = Math.round(loadavg()[0] * 100) / 100;
    report.stalledOpened = counts.stalledOpened;
    report.stalledRefused = counts.stalledRefused;
    report.floodRequests = counts.floodRequests;
    report.flood503 = counts.flood503;
    report.attackErrors = counts.errors;
    report.attackRate = Math.round(((counts.stalledOpened + counts.stalledRefused + counts.floodRequests) / (counts.ms / 1000)) * 10) / 10;
    collectGarbage();
    const m1 = sample();
    report.heapMiB.end = MiB(m1.heapUsed);
    report.rssMiB.end = MiB(m1.rss);
    // the server idle again: the attackers' process has ended, and with it their connections
    for (let i = 0; i < 200 && (await healthOf(app)).running > 0; i++) await sleep(50);
    const idleAfter: number[] = [];
    await idlePhase(idleAfter);
    const idle = [...idleBefore, ...idleAfter];
    report.idle = { count: idle.length, p50: percentile(idle, 50), p99: percentile(idle, 99), p99Before: percentile(idleBefore, 99), p99After: percentile(idleAfter, 99) };
    report.loaded = { count: loaded.length, p50: percentile(loaded, 50), p99: percentile(loaded, 99), failed: failed.n };
    report.ratio = Math.round((report.loaded.p99 / report.idle.p99) * 100) / 100;
    return report;
  } finally {
    void phase;
    if (attackers && attackers.exitCode === null) attackers.kill();
    server.closeAll();
    await server.close();
  }
}
