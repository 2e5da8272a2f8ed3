// Block graph scale: blockdev-add of many null-co nodes, daemon memory, and
// query-named-block-nodes latency and size, qmpd vs QSD.
import { hasQsd, line, Qmp, rssMiB, startDaemon } from './lib.mjs';

const SIZES = [1000, 10000];

async function addNodes(q, from, to) {
  const start = process.hrtime.bigint();
  let batch = '';
  for (let i = from; i < to; i++) {
    batch += JSON.stringify({ execute: 'blockdev-add', arguments: { driver: 'null-co', 'node-name': `n${i}`, size: 1048576 } }) + '\n';
    if (batch.length > 64 * 1024) {
      q.send(batch);
      batch = '';
    }
  }
  q.send(batch);
  for (let i = from; i < to; i++) {
    const r = await q.next();
    if (r.includes('"error"')) throw new Error(r);
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function measure(kind) {
  const d = await startDaemon(kind);
  const q = await Qmp.open(d.sockets[0]);
  const out = {};
  let done = 0;
  for (const n of SIZES) {
    const secs = await addNodes(q, done, n);
    done = n;
    const t = process.hrtime.bigint();
    const reply = await q.cmdRaw('query-named-block-nodes');
    out[n] = {
      addsPerSec: n === SIZES[0] ? n / secs : (n - SIZES[0]) / secs,
      addSecs: secs,
      rss: rssMiB(d.pid),
      queryMs: Number(process.hrtime.bigint() - t) / 1e6,
      queryBytes: reply.length,
    };
  }
  q.close();
  await d.stop();
  return out;
}

export async function run() {
  console.log('Block graph scale (null-co nodes)');
  const ours = await measure('qmpd');
  const theirs = hasQsd() ? await measure('qsd') : undefined;
  for (const n of SIZES) {
    const label = n === SIZES[0] ? `0..${n}` : `${SIZES[0]}..${n}`;
    line(`blockdev-add rate, nodes ${label}`, ours[n].addsPerSec, theirs?.[n].addsPerSec, 'adds/s', true);
    line(`daemon RSS at ${n} nodes`, ours[n].rss, theirs?.[n].rss, 'MiB', false);
    line(`query-named-block-nodes at ${n}`, ours[n].queryMs, theirs?.[n].queryMs, 'ms', false);
    line(`  answer size at ${n}`, ours[n].queryBytes / 1e6, theirs?.[n].queryBytes / 1e6, 'MB', false);
  }
  const scaling = (r) => (r[SIZES[1]].addSecs + r[SIZES[0]].addSecs) / r[SIZES[0]].addSecs;
  console.log(`  cost of ${SIZES[1]} adds / cost of ${SIZES[0]}: qmpd ${scaling(ours).toFixed(1)}x, QSD ${theirs ? scaling(theirs).toFixed(1) + 'x' : 'n/a'} (linear = 10x)`);
}
