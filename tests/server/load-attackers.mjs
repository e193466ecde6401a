// The load test's attackers, in a process of their own (forked by tests/server/load.ts), as remote
// attackers are: their HTTP clients take none of the server's thread. Plain JavaScript with nothing but
// node:http, so it forks the same from vitest and from tsx.
//
// The parent sends { port, stalled, flooders, loadMs }; this process attacks for loadMs, then sends its
// counts ({ type: 'report', ... }) and exits.
//   stalled readers (from 127.0.0.2): a streamed completion of 4,000 tokens whose answer is never read
//     past its headers; when the server ends one, another is opened; a refused one comes back a second later
//   flooders (from 127.0.0.3): max_tokens 0 under a fresh session name, as fast as they are answered
import http from 'node:http';

const JSON_TYPE = { 'content-type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function post(port, from, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, localAddress: from, path: '/v1/completions', method: 'POST', agent: false, headers: JSON_TYPE }, resolve);
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('client timeout')));
    req.end(JSON.stringify(body));
  });
}

async function drain(res) {
  for await (const _ of res);
}

async function attack({ port, stalled, flooders, loadMs }) {
  const counts = { stalledOpened: 0, stalledRefused: 0, floodRequests: 0, flood503: 0, errors: 0, ms: 0 };
  const open = new Set();
  const t0 = Date.now();
  const loadEnd = t0 + loadMs;
  const over = () => Date.now() >= loadEnd;

  const stalledLoop = async () => {
    while (!over()) {
      try {
        const res = await post(port, '127.0.0.2', { model: 'default', prompt: 'Once upon a time', max_tokens: 4000, stream: true });
        if (res.statusCode !== 200) {
          // refused (this address is at its caps): come back a second later, as a patient attacker would
          counts.stalledRefused++;
          res.destroy();
          await sleep(1000);
          continue;
        }
        counts.stalledOpened++;
        open.add(res);
        res.pause();
        await new Promise((r) => {
          const t = setInterval(() => over() && (clearInterval(t), r()), 100);
          res.socket.once('close', () => (clearInterval(t), r()));
        });
        open.delete(res);
        res.destroy();
      } catch {
        counts.errors++;
        await sleep(100);
      }
    }
  };

  let serial = 0;
  const floodLoop = async () => {
    while (!over()) {
      try {
        const res = await post(port, '127.0.0.3', { model: 'default', prompt: 'x', max_tokens: 0, session: `flood-${serial++}` });
        counts.floodRequests++;
        if (res.statusCode === 503) {
          counts.flood503++;
          await sleep(20);
        }
        await drain(res);
      } catch {
        counts.errors++;
        await sleep(50);
      }
    }
  };

  await Promise.all([...Array.from({ length: stalled }, stalledLoop), ...Array.from({ length: flooders }, floodLoop)]);
  for (const res of open) res.destroy();
  counts.ms = Date.now() - t0;
  return counts;
}

process.once('message', async (options) => {
  const counts = await attack(options);
  process.send({ type: 'report', ...counts }, () => process.exit(0));
});
// the parent gone (a failed test, say): stop attacking
process.once('disconnect', () => process.exit(0));
