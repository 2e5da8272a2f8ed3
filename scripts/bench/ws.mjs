// QMP over WebSocket next to the same daemon's unix socket: sequential round
// trip and pipelined throughput (query-version). Target: WebSocket throughput
// at least 0.7x the unix socket's. Env: BENCH_WS_PIPELINE (default 50000).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    [...(process.env.QMPD_NODE_ARGS ?? '').split(' ').filter(Boolean), join(REPO, 'dist/cli.js'), '--chardev', `socket,id=m,path=${sock},server=on,wait=off`, '--monitor', 'chardev=m', '--http', `127.0.0.1:${port}`],
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
    port,
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

/**
 * A lean WebSocket client (RFC 6455 framing by hand), as lean as the unix
 * client above: with the `ws` library's client the bench measured the client,
 * not the daemon (the daemon sat idle half the time).
 */
async function openWs(port) {
  const sock = connect(port, '127.0.0.1');
  await new Promise((r, j) => (sock.once('connect', r), sock.once('error', j)));
  sock.setNoDelay(true);
  sock.write(
    `GET /qmp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: qmp\r\n\r\n`,
  );
  const replies = [];
  const waiting = [];
  let buf = Buffer.alloc(0);
  let upgraded = false;
  const deliver = (text) => {
    if (text.startsWith('{"timestamp"')) return;
    const w = waiting.shift();
    if (w) w(text);
    else replies.push(text);
  };
  sock.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!buf.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) throw new Error(`no upgrade: ${buf.toString()}`);
      upgraded = true;
      buf = buf.subarray(end + 4);
    }
    let pos = 0;
    for (;;) {
      if (buf.length - pos < 2) break;
      let len = buf[pos + 1] & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - pos < 4) break;
        len = buf.readUInt16BE(pos + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - pos < 10) break;
        len = Number(buf.readBigUInt64BE(pos + 2));
        head = 10;
      }
      if (buf.length - pos < head + len) break;
      if ((buf[pos] & 0x0f) === 1) deliver(buf.toString('utf8', pos + head, pos + head + len));
      pos += head + len;
    }
    buf = buf.subarray(pos);
  });
  // Client frames are masked (RFC 6455 5.3): a fresh key per frame from a pool of random bytes.
  let keys = randomBytes(4 * 4096);
  let keyPos = 0;
  const frame = (text) => {
    const payload = Buffer.from(text);
    if (payload.length > 125) throw new Error('bench frames are short');
    if (keyPos === keys.length) {
      keys = randomBytes(keys.length);
      keyPos = 0;
    }
    const out = Buffer.allocUnsafe(6 + payload.length);
    out[0] = 0x81;
    out[1] = 0x80 | payload.length;
    keys.copy(out, 2, keyPos, keyPos + 4);
    for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ keys[keyPos + (i & 3)];
    keyPos += 4;
    return out;
  };
  const next = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((r) => waiting.push(r)));
  await next();
  sock.write(frame('{"execute":"qmp_capabilities"}'));
  await next();
  return {
    send: (t) => sock.write(frame(t)),
    // One write per batch, as the unix client does with one string: frames stay one per request.
    sendMany: (t, n) => sock.write(Buffer.concat(Array.from({ length: n }, () => frame(t)))),
    next,
    close: () => sock.end(),
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
    const ws = await openWs(d.port);
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
