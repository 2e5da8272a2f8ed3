// QMP over WebSocket next to the same daemon's unix socket: sequential round
// trip and pipelined throughput (query-version). Target: WebSocket throughput
// at least 0.7x the unix socket's. Env: BENCH_WS_PIPELINE (default 50000).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { fmt, median, percentile, Qmp, REPO } from './lib.mjs';

const RTT_SAMPLES = 5000;
const WARMUP = 500;
const PIPELINE = Number(process.env.BENCH_WS_PIPELINE ?? 50000);
const BATCH = 1000;
const TARGET_RATIO = 0.7;
const ROUNDS = 5;

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function startQmpd() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ws-'));
  const sock = join(dir, 'qmp.sock');
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [join(REPO, 'dist/cli.js'), '--chardev', `socket,id=m,path=${sock},server=on,wait=off`, '--monitor', 'chardev=m', '--http', `127.0.0.1:${port}`],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, QMPD_HTTP_TOKEN: '' } },
  );
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`qmpd exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`qmpd did not start: ${stderr}`);
    if (existsSync(sock)) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    sock,
    wsUrl: `ws://127.0.0.1:${port}/qmp`,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The unix client of lib.mjs, with the same shape as the WebSocket one below. */
async function openUnix(path) {
  const q = await Qmp.open(path);
  return { send: (t) => q.send(t + '\n'), sendMany: (t, n) => q.send((t + '\n').repeat(n)), next: () => q.next(), close: () => q.close() };
}

async function openWs(url) {
  const ws = new WebSocket(url, ['qmp']);
  const replies = [];
  const waiting = [];
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.startsWith('{"timestamp"')) return;
    const w = waiting.shift();
    if (w) w(text);
    else replies.push(text);
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  ws._socket.setNoDelay(true);
  const next = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((r) => waiting.push(r)));
  await next();
  ws.send('{"execute":"qmp_capabilities"}');
  await next();
  return {
    send: (t) => ws.send(t),
    // One write per batch, as the unix client does with one string: frames stay one per request.
    sendMany: (t, n) => {
      ws._socket.cork();
      for (let i = 0; i < n; i++) ws.send(t);
      ws._socket.uncork();
    },
    next,
    close: () => ws.close(),
  };
}

const REQUEST = '{"execute":"query-version"}';

async function roundTrip(client) {
  for (let i = 0; i < WARMUP; i++) {
    client.send(REQUEST);
    await client.next();
  }
  const t = [];
  for (let i = 0; i < RTT_SAMPLES; i++) {
    const s = process.hrtime.bigint();
    client.send(REQUEST);
    await client.next();
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  t.sort((a, b) => a - b);
  return { p50: percentile(t, 50), p99: percentile(t, 99) };
}

async function pipelined(client, total) {
  const start = process.hrtime.bigint();
  let received = 0;
  // Keep at most two batches in flight, so the measure is the daemon's pace, not a queue's size.
  for (let sent = 0; sent < total; sent += BATCH) {
    client.sendMany(REQUEST, BATCH);
    while (received < sent - BATCH) {
      await client.next();
      received++;
    }
  }
  while (received < total) {
    await client.next();
    received++;
  }
  return total / (Number(process.hrtime.bigint() - start) / 1e9);
}

function row(label, unix, ws, unit, higherIsBetter) {
  const ratio = higherIsBetter ? ws / unix : unix / ws;
  console.log(`  ${label.padEnd(30)} unix ${fmt(unix).padStart(10)} ${unit.padEnd(6)} WebSocket ${fmt(ws).padStart(10)} ${unit.padEnd(6)} ${ratio.toFixed(2)}x`);
  return ratio;
}

export async function run() {
  console.log('QMP over WebSocket vs the unix socket (same qmpd, query-version)');
  const d = await startQmpd();
  try {
    const unix = await openUnix(d.sock);
    const ws = await openWs(d.wsUrl);
    const ru = await roundTrip(unix);
    const rw = await roundTrip(ws);
    row('round trip p50', ru.p50, rw.p50, 'µs', false);
    row('round trip p99', ru.p99, rw.p99, 'µs', false);
    // Interleaved rounds, so that both transports see the same load on a shared machine;
    // best of each, and the median of the per-round ratios.
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push([await pipelined(unix, PIPELINE), await pipelined(ws, PIPELINE)]);
    row('pipelined throughput (best)', Math.max(...rounds.map((r) => r[0])), Math.max(...rounds.map((r) => r[1])), 'req/s', true);
    const ratio = median(rounds.map(([u, w]) => w / u));
    console.log(`  WebSocket/unix throughput, median of ${ROUNDS} rounds: ${ratio.toFixed(2)}x (target >= ${TARGET_RATIO}x): ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`);
    unix.close();
    ws.close();
  } finally {
    await d.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
