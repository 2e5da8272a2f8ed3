/**
 * Snapshots while writes flow through NBD exports of the real daemon.
 * Disk A carries a continuous `qemu-img bench -w` load; disk B carries a
 * pattern writer (our NBD client, one slot per write, queue depth 8) whose
 * every write is timed against the snapshot transactions. Both disks are
 * snapshotted together, once and then 20 times in a chain. Checked: the load
 * never sees an error, every slot of B reads back, a slot written before a
 * snapshot began sits below that snapshot's overlay and a slot written after
 * it committed sits in it or above, and `qemu-img check` is clean on every image.
 */
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { RawNbdClient } from '../helpers/nbd-client.js';
import { skipWithout } from '../helpers/tools.js';

const SLOT = 64 * 1024;
const SLOTS = 400;
const NBD_CMD_WRITE = 1;

function pattern(slot: number): number {
  return (slot % 251) + 1;
}

interface Written {
  slot: number;
  /** snapshots committed when the write was issued */
  issuedAfter: number;
  /** snapshots begun when its reply arrived */
  doneBefore: number;
}

async function run(snapshots: number): Promise<void> {
  await using d = await TestDaemon.start({ args: [] });
  for (const disk of ['a', 'b']) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', d.path(`${disk}0.qcow2`), '64M']);
  const q = await d.connect();
  await q.execute('nbd-server-start', { addr: { type: 'unix', data: { path: d.path('nbd.sock') } } });
  for (const disk of ['a', 'b']) {
    await q.execute('blockdev-add', { driver: 'qcow2', 'node-name': `${disk}0`, file: { driver: 'file', filename: d.path(`${disk}0.qcow2`) } });
    await q.execute('block-export-add', { type: 'nbd', id: disk, 'node-name': `${disk}0`, name: disk, writable: true });
  }
  const load = spawn('qemu-img', ['bench', '-w', '-f', 'raw', '-c', '100000000', '-s', '4k', '-d', '16', `nbd+unix:///a?socket=${d.path('nbd.sock')}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let loadErrors = '';
  load.stderr.on('data', (x: Buffer) => (loadErrors += x.toString()));

  let begun = 0;
  let committed = 0;
  const written: Written[] = [];
  const writer = (async () => {
    const c = await RawNbdClient.connect(d.path('nbd.sock'));
    await c.open('b', { structured: false });
    const QD = 8;
    let next = 0;
    const inflight = new Map<bigint, Written>();
    const issue = () => {
      const slot = next++;
      const w: Written = { slot, issuedAfter: committed, doneBefore: -1 };
      inflight.set(BigInt(slot), w);
      c.request({ type: NBD_CMD_WRITE, handle: BigInt(slot), offset: slot * SLOT, data: Buffer.alloc(SLOT, pattern(slot)) });
    };
    while (next < QD) issue();
    while (inflight.size > 0) {
      const r = await c.reply();
      if (r.kind !== 'simple' || r.error !== 0) throw new Error(`write failed: ${JSON.stringify(r)}`);
      const w = inflight.get(r.handle)!;
      inflight.delete(r.handle);
      w.doneBefore = begun;
      written.push(w);
      if (next < SLOTS) {
        await new Promise((res) => setTimeout(res, 1));
        issue();
      }
    }
    c.close();
  })();

  let top = 0;
  for (let s = 1; s <= snapshots; s++) {
    await new Promise((res) => setTimeout(res, snapshots > 1 ? 15 : 150));
    begun = s;
    await q.execute('transaction', {
      actions: ['a', 'b'].map((disk) => ({
        type: 'blockdev-snapshot-sync',
        data: { 'node-name': `${disk}${top}`, 'snapshot-file': d.path(`${disk}${s}.qcow2`), 'snapshot-node-name': `${disk}${s}` },
      })),
    });
    committed = s;
    top = s;
  }
  await writer;
  load.kill('SIGTERM');
  await new Promise((res) => load.once('exit', res));
  expect(loadErrors).toBe('');
  const exports = (await q.execute('query-block-exports')) as { id: string; 'node-name': string }[];
  expect(exports.map((e) => e['node-name']).sort()).toEqual([`a${top}`, `b${top}`]);
  await q.execute('quit');
  expect(await d.waitExit()).toBe(0);

  // where each slot of B lives: the layer qemu-img map names for it
  const map = JSON.parse(
    execFileSync('qemu-img', ['map', '--output=json', d.path(`b${top}.qcow2`)], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  ) as { start: number; length: number; depth: number; data: boolean }[];
  const layerOf = (offset: number) => {
    const m = map.find((e) => e.start <= offset && offset < e.start + e.length)!;
    return m.data ? top - m.depth : -1;
  };
  expect(written).toHaveLength(SLOTS);
  // the writes really straddled the snapshots
  const layers = new Set(written.map((w) => layerOf(w.slot * SLOT)));
  expect(layers.size).toBeGreaterThan(snapshots > 1 ? 5 : 1);
  for (const w of written) {
    const layer = layerOf(w.slot * SLOT);
    expect(layer, `slot ${w.slot}`).toBeGreaterThanOrEqual(w.issuedAfter);
    expect(layer, `slot ${w.slot}`).toBeLessThan(w.doneBefore + 1);
  }
  const io = execFileSync(
    'qemu-io',
    ['-r', '-f', 'qcow2', ...written.slice(0, 50).flatMap((w) => ['-c', `read -q -P ${pattern(w.slot)} ${w.slot * SLOT} ${SLOT}`]), d.path(`b${top}.qcow2`)],
    { encoding: 'utf8' },
  );
  expect(io).toBe('');
  for (let s = 0; s <= top; s++) {
    for (const disk of ['a', 'b']) {
      expect(execFileSync('qemu-img', ['check', d.path(`${disk}${s}.qcow2`)], { encoding: 'utf8' })).toContain('No errors were found');
    }
  }
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('snapshots under load through NBD exports', () => {
  it('snapshots two exported disks at once while they are written', () => run(1), 120_000);
  it('keeps every write in its layer across a chain of 20 snapshots under continuous load', () => run(20), 180_000);
});
