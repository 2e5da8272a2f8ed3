// NBD server throughput: qemu-img bench against qmpd's NbdServer (serving a
// raw file through the test file backend, scripts/bench/nbd-serve.mjs) and
// against qemu-storage-daemon exporting the same kind of file.
// Env: BENCH_NBD_SIZE_MIB (default 1024), BENCH_NBD_RUNS (default 3, median kept).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, writeSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasQsd, line, median, startDaemon } from './lib.mjs';

const exec = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_NBD_SIZE_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_NBD_RUNS ?? 3);

const CASES = [
  { label: 'sequential write 1 MiB, qd 16', unit: 'MiB/s', args: ['-w', '--pattern=165', '-s', '1M', '-d', '16'], count: 4 * SIZE_MIB, bytes: MiB },
  { label: 'sequential read 1 MiB, qd 16', unit: 'MiB/s', args: ['-s', '1M', '-d', '16'], count: 4 * SIZE_MIB, bytes: MiB },
  // qemu-img bench has no random mode: a 1 MiB + 4 KiB stride scatters the reads over the file.
  { label: 'scattered read 4 KiB, qd 16', unit: 'IOPS', args: ['-s', '4k', '-S', String(MiB + 4096), '-d', '16'], count: 200_000, bytes: 0 },
];

function makeImage(path) {
  const fd = openSync(path, 'w');
  const block = randomBytes(MiB);
  for (let i = 0; i < SIZE_MIB; i++) writeSync(fd, block, 0, MiB, i * MiB);
  closeSync(fd);
}

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

async function measure(uri) {
  const out = [];
  for (const c of CASES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await benchOnce(uri, c));
    out.push(median(runs));
  }
  return out;
}

async function withQmpd(dir, image, fn) {
  const sock = join(dir, 'qmpd-nbd.sock');
  const proc = spawn(process.execPath, [join(import.meta.dirname, 'nbd-serve.mjs'), image, sock, 'disk'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    proc.stdout.once('data', resolve);
    proc.once('exit', (code) => reject(new Error(`nbd-serve exited ${code}`)));
  });
  try {
    return await fn(`nbd+unix:///disk?socket=${sock}`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

async function withQsd(dir, image, fn) {
  const sock = join(dir, 'qsd-nbd.sock');
  const d = await startDaemon('qsd', {
    args: [
      '--blockdev', `driver=file,filename=${image},node-name=disk`,
      '--nbd-server', `addr.type=unix,addr.path=${sock}`,
      '--export', 'type=nbd,id=e0,node-name=disk,writable=on',
    ],
  });
  try {
    await waitFor(sock);
    return await fn(`nbd+unix:///disk?socket=${sock}`);
  } finally {
    await d.stop();
  }
}

export async function run() {
  console.log(`NBD server: qemu-img bench over a ${SIZE_MIB} MiB raw file, median of ${RUNS} runs`);
  if (!hasQsd()) {
    console.log('  (qemu-storage-daemon missing: skipped)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-nbd-'));
  try {
    const image = join(dir, 'disk.raw');
    makeImage(image);
    const ours = await withQmpd(dir, image, measure);
    const theirs = await withQsd(dir, image, measure);
    CASES.forEach((c, i) => line(c.label, ours[i], theirs[i], c.unit, true));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
