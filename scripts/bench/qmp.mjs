// QMP monitor: sequential round trip and pipelined throughput, qmpd vs QSD.
import { hasQsd, line, percentile, Qmp, startDaemon } from './lib.mjs';

const RTT_SAMPLES = 5000;
const PIPELINE = 50000;
const CONNECTIONS = 4;

async function roundTrip(path) {
  const q = await Qmp.open(path);
  for (let i = 0; i < 500; i++) await q.cmdRaw('query-version');
  const t = [];
  for (let i = 0; i < RTT_SAMPLES; i++) {
    const s = process.hrtime.bigint();
    await q.cmdRaw('query-version');
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  q.close();
  t.sort((a, b) => a - b);
  return { p50: percentile(t, 50), p99: percentile(t, 99) };
}

async function pipelined(paths, total) {
  const clients = await Promise.all(paths.map((p) => Qmp.open(p)));
  const per = Math.floor(total / clients.length);
  const request = '{"execute":"query-version"}\n';
  const start = process.hrtime.bigint();
  await Promise.all(
    clients.map(async (q) => {
      const batch = request.repeat(1000);
      for (let sent = 0; sent < per; sent += 1000) q.send(batch);
      for (let i = 0; i < per; i++) await q.next();
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  clients.forEach((q) => q.close());
  return (per * clients.length) / secs;
}

export async function run() {
  console.log('QMP monitor (query-version, validation on)');
  const ours = await startDaemon('qmpd', { monitors: CONNECTIONS });
  const theirs = hasQsd() ? await startDaemon('qsd', { monitors: CONNECTIONS }) : undefined;
  try {
    const a = await roundTrip(ours.sockets[0]);
    const b = theirs ? await roundTrip(theirs.sockets[0]) : undefined;
    line('round trip p50', a.p50, b?.p50, 'µs', false);
    line('round trip p99', a.p99, b?.p99, 'µs', false);
    const p1 = await pipelined([ours.sockets[0]], PIPELINE);
    const q1 = theirs ? await pipelined([theirs.sockets[0]], PIPELINE / 5) : undefined;
    line('pipelined, 1 connection', p1, q1, 'req/s', true);
    const p4 = await pipelined(ours.sockets, PIPELINE);
    const q4 = theirs ? await pipelined(theirs.sockets, PIPELINE / 5) : undefined;
    line(`pipelined, ${CONNECTIONS} connections`, p4, q4, 'req/s', true);
  } finally {
    await ours.stop();
    await theirs?.stop();
  }
}
