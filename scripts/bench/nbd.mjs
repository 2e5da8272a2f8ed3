// NBD exports, qmpd vs QSD, each exporting the same kind of 1 GiB image with
// qemu-img bench as the client: sequential 1 MiB writes and reads at queue
// depth 16 and scattered 4 KiB reads, on qcow2 and on raw; then the latency of
// a snapshot transaction while qemu-img bench writes through the export.
// Env: BENCH_NBD_SIZE_MIB (default 1024), BENCH_NBD_RUNS (default 3, median kept).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasQsd, line, median, Qmp, startDaemon } from './lib.mjs';

const exec = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_NBD_SIZE_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_NBD_RUNS ?? 3);

const CASES = [
  { label: 'sequential write 1 MiB, qd 16', unit: 'MiB/s', args: ['-w', '--pattern=165', '-s', '1M', '-d', '16'], count: SIZE_MIB, bytes: MiB },
  { label: 'sequential read 1 MiB, qd 16', unit: 'MiB/s', args: ['-s', '1M', '-d', '16'], count: 2 * SIZE_MIB, bytes: MiB },
  // qemu-img bench has no random mode: a 1 MiB + 4 KiB stride scatters the reads over the disk
  { label: 'scattered read 4 KiB, qd 16', unit: 'IOPS', args: ['-s', '4k', '-S', String(MiB + 4096), '-d', '16'], count: 100_000, bytes: 0 },
];

async function waitFor(path) {
  const deadline = Date.now() + 10_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function benchOnce(uri, c) {
  const { stdout } = await exec('qemu-img', ['bench', '-f', 'raw', '-c', String(c.count), ...c.args, uri]);
  const secs = Number(/Run completed in ([\d.]+) seconds/.exec(stdout)[1]);
  return c.bytes ? (c.count * c.bytes) / MiB / secs : c.count / secs;
}

/** A daemon exporting a fresh image of `format` as NBD export `disk`. */
async function exported(kind, format, fn) {
  const dir = mkdtempSync(join(tmpdir(), `bench-nbd-${kind}-`));
  const image = join(dir, `disk.${format}`);
  execFileSync('qemu-img', ['create', '-q', '-f', format, image, `${SIZE_MIB}M`]);
  const sock = join(dir, 'nbd.sock');
  const blockdev = { driver: format, 'node-name': 'disk', file: { driver: 'file', filename: image } };
  const d = await startDaemon(kind, {
    dir,
    args: [
      '--blockdev', JSON.stringify(blockdev),
      '--nbd-server', `addr.type=unix,addr.path=${sock}`,
      '--export', 'type=nbd,id=e0,node-name=disk,writable=on',
    ],
  });
  try {
    await waitFor(sock);
    return await fn(`nbd+unix:///disk?socket=${sock}`, d, dir);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each run writes a fresh image, then reads what it wrote (no holes to skip). */
function oneRun(kind, format) {
  return exported(kind, format, async (uri) => {
    const r = [];
    for (const c of CASES) r.push(await benchOnce(uri, c));
    return r;
  });
}

/** qmpd and QSD runs alternate, so that the machine's drift touches both alike. */
async function throughput(format) {
  const ours = [];
  const theirs = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(await oneRun('qmpd', format));
    theirs.push(await oneRun('qsd', format));
  }
  const medians = (runs) => CASES.map((_, i) => median(runs.map((r) => r[i])));
  return { ours: medians(ours), theirs: medians(theirs) };
}

/** Time of a blockdev-snapshot-sync transaction while qemu-img bench writes through the export. */
async function snapshotUnderLoad(kind) {
  return exported(kind, 'qcow2', async (uri, d, dir) => {
    const q = await Qmp.open(d.sockets[0]);
    const load = spawn('qemu-img', ['bench', '-w', '-f', 'raw', '-c', '1000000', '-s', '64k', '-d', '16', uri], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    const times = [];
    let top = 'disk';
    for (let i = 1; i <= 5; i++) {
      const t = process.hrtime.bigint();
      await q.cmd('transaction', { actions: [{ type: 'blockdev-snapshot-sync', data: { 'node-name': top, 'snapshot-file': join(dir, `s${i}.qcow2`), 'snapshot-node-name': `s${i}` } }] });
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      top = `s${i}`;
      await new Promise((r) => setTimeout(r, 200));
    }
    load.kill('SIGTERM');
    q.close();
    return median(times);
  });
}

export async function run() {
  console.log(`NBD exports (qemu-img bench, ${SIZE_MIB} MiB images, median of ${RUNS} runs)`);
  if (!hasQsd()) {
    console.log('  (qemu-storage-daemon missing: skipped)');
    return;
  }
  for (const format of ['qcow2', 'raw']) {
    const { ours, theirs } = await throughput(format);
    CASES.forEach((c, i) => line(`${format}: ${c.label}`, ours[i], theirs[i], c.unit, true));
  }
  line('snapshot transaction under write load', await snapshotUnderLoad('qmpd'), await snapshotUnderLoad('qsd'), 'ms', false);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
