// Transactions and snapshots, qmpd vs QSD: one transaction of K snapshot
// actions; 200 successive snapshots of one node; the nested
// query-named-block-nodes at depth 200; a K=16 transaction whose last
// action fails (time to the error, everything rolled back).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasQsd, line, median, Qmp, startDaemon } from './lib.mjs';

const KS = [1, 16, 128];
const CHAIN = 200;
const RUNS = 3;

function images(dir, n, prefix) {
  for (let i = 0; i < n; i++) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', `${dir}/${prefix}${i}.qcow2`, '64M']);
}

/** Nodes with an export each, so that overlays stay in the graph on QSD too. */
function exportedDisks(n, prefix) {
  const args = ['--nbd-server', 'addr.type=unix,addr.path=nbd.sock'];
  for (let i = 0; i < n; i++) {
    args.push('--blockdev', JSON.stringify({ driver: 'qcow2', 'node-name': `${prefix}${i}`, file: { driver: 'file', filename: `${prefix}${i}.qcow2` } }));
    args.push('--export', `type=nbd,id=e${prefix}${i},node-name=${prefix}${i},writable=on`);
  }
  return args;
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function workdir(kind) {
  return mkdtempSync(join(tmpdir(), `bench-tx-${kind}-`));
}

async function batch(kind, k, failLast) {
  const dir = workdir(kind);
  images(dir, k, 'd');
  const d = await startDaemon(kind, { args: exportedDisks(k, 'd'), dir });
  const q = await Qmp.open(d.sockets[0]);
  const actions = [];
  for (let i = 0; i < k; i++) {
    const node = failLast && i === k - 1 ? 'nosuch' : `d${i}`;
    actions.push({ type: 'blockdev-snapshot-sync', data: { 'node-name': node, 'snapshot-file': `s${i}.qcow2`, 'snapshot-node-name': `s${i}` } });
  }
  let reply;
  const ms = await timed(async () => (reply = await q.cmdRaw('transaction', { actions })));
  if (failLast !== reply.includes('"error"')) throw new Error(`unexpected transaction answer: ${reply}`);
  q.close();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function chain(kind) {
  const dir = workdir(kind);
  images(dir, 1, 'c');
  const d = await startDaemon(kind, { args: exportedDisks(1, 'c'), dir });
  const q = await Qmp.open(d.sockets[0]);
  const per = [];
  let top = 'c0';
  for (let i = 1; i <= CHAIN; i++) {
    const ms = await timed(() => q.cmd('blockdev-snapshot-sync', { 'node-name': top, 'snapshot-file': `t${i}.qcow2`, 'snapshot-node-name': `t${i}` }));
    per.push(ms);
    top = `t${i}`;
  }
  let size = 0;
  const queryMs = await timed(async () => (size = (await q.cmdRaw('query-named-block-nodes')).length));
  q.close();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
  const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  return { early: avg(per.slice(0, 10)), late: avg(per.slice(CHAIN - 10)), queryMs, size };
}

export async function run() {
  console.log(`Transactions and snapshots (median of ${RUNS} runs; exported qcow2 disks)`);
  const qsd = hasQsd();
  for (const k of KS) {
    const ours = [];
    const theirs = [];
    for (let r = 0; r < RUNS; r++) {
      ours.push(await batch('qmpd', k, false));
      if (qsd) theirs.push(await batch('qsd', k, false));
    }
    line(`transaction of ${k} snapshot${k > 1 ? 's' : ''}`, median(ours), qsd ? median(theirs) : NaN, 'ms', false);
  }
  const fo = [];
  const ft = [];
  for (let r = 0; r < RUNS; r++) {
    fo.push(await batch('qmpd', 16, true));
    if (qsd) ft.push(await batch('qsd', 16, true));
  }
  line('K=16, last action fails (to the error)', median(fo), qsd ? median(ft) : NaN, 'ms', false);
  const a = await chain('qmpd');
  const b = qsd ? await chain('qsd') : undefined;
  line('snapshot at depth 1-10 (each)', a.early, b?.early, 'ms', false);
  line(`snapshot at depth ${CHAIN - 9}-${CHAIN} (each)`, a.late, b?.late, 'ms', false);
  line(`query-named-block-nodes at depth ${CHAIN}`, a.queryMs, b?.queryMs, 'ms', false);
  line('  its size', a.size / 1e6, b ? b.size / 1e6 : NaN, 'MB', false);
}
