/**
 * Persistent dirty bitmaps: bitmaps stored by qmpd show in `qemu-img info`
 * and carry their bits to QEMU (read back over NBD from qemu-nbd), bitmaps
 * QEMU stored load with their bits, and replacing or dropping them leaves
 * `qemu-img check` clean.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredBitmap } from '../../src/block/drivers/driver.js';
import { formatQcow2 } from '../../src/block/drivers/qcow2/create.js';
import { FileChild } from '../helpers/file-child.js';
import { openQcow2 } from '../helpers/qcow2.js';
import { mustRun, qemuImgCheck, qemuImgInfo, qemuIo, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

function bitsFor(size: number, granularity: number, dirty: [number, number][]): Uint8Array {
  const bits = new Uint8Array(Math.ceil(Math.ceil(size / granularity) / 8));
  for (const [off, len] of dirty) {
    for (let g = Math.floor(off / granularity); g <= Math.floor((off + len - 1) / granularity); g++) bits[g >> 3]! |= 1 << (g & 7);
  }
  return bits;
}

/** The dirty ranges of bitmap `name` as qemu-nbd exports them (qemu:dirty-bitmap meta context). */
async function qemuDirtyMap(path: string, name: string, sock: string): Promise<string> {
  const nbd = spawn('qemu-nbd', ['-r', '-f', 'qcow2', '-B', name, '-k', sock, path], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const out = mustRun('nbdinfo', [`--map=qemu:dirty-bitmap:${name}`, `nbd+unix:///?socket=${sock}`]);
    return out
      .split('\n')
      .filter((l) => l.includes('dirty') && !l.includes('clean'))
      .map((l) => l.trim().split(/\s+/).slice(0, 2).join('+'))
      .join(' ');
  } finally {
    nbd.kill();
  }
}

async function newImage(path: string): Promise<void> {
  writeFileSync(path, '');
  const f = await FileChild.open(path);
  await formatQcow2(f, { size: SIZE });
  await f.close();
}

function expectClean(path: string): void {
  const c = qemuImgCheck(path);
  expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks, stderr: c.stderr }).toEqual({
    status: 0,
    corruptions: 0,
    leaks: 0,
    stderr: '',
  });
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io', 'qemu-nbd', 'nbdinfo'))('qcow2 persistent bitmaps', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('stores bitmaps that qemu-img info lists and qemu-nbd exports with the same bits', async () => {
    const path = tmp.path('ours.qcow2');
    await newImage(path);
    const img = await openQcow2(path);
    await img.instance.write!(0, Buffer.alloc(MiB, 1), {});
    const b2: StoredBitmap = { name: 'b2', granularity: 131072, enabled: true, bits: bitsFor(SIZE, 131072, [[0, MiB], [40 * MiB, 1]]) };
    const b3: StoredBitmap = { name: 'b3', granularity: 65536, enabled: false, bits: bitsFor(SIZE, 65536, [[SIZE - 65536, 65536]]) };
    await img.instance.storeBitmaps!([b2, b3]);
    await img.instance.write!(MiB, Buffer.alloc(4096, 2), {});
    const live = qemuImgInfo(path, ['-U']) as { 'format-specific': { data: { bitmaps: { flags: string[] }[] } } };
    // bitmaps come oldest first; QEMU puts new ones into the directory newest first
    expect(live['format-specific'].data.bitmaps.map((b) => b.flags)).toEqual([[], ['in-use', 'auto']]);
    await img.instance.storeBitmaps!([b2, b3]);
    await img.close();

    const info = qemuImgInfo(path) as { 'format-specific': { data: Record<string, unknown> } };
    expect(info['format-specific'].data['bitmaps']).toEqual([
      { flags: [], name: 'b3', granularity: 65536 },
      { flags: ['auto'], name: 'b2', granularity: 131072 },
    ]);
    expectClean(path);
    expect(await qemuDirtyMap(path, 'b2', tmp.path('nbd1.sock'))).toBe(`0+${MiB} ${40 * MiB}+131072`);
    expect(await qemuDirtyMap(path, 'b3', tmp.path('nbd2.sock'))).toBe(`${SIZE - 65536}+65536`);
  });

  it('loads the bitmaps QEMU stored, with their bits', async () => {
    const path = tmp.path('theirs.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, String(SIZE)]);
    mustRun('qemu-img', ['bitmap', '--add', '-g', '65536', path, 'q1']);
    mustRun('qemu-img', ['bitmap', '--add', '--disable', path, 'q2']);
    qemuIo(path, ['write 0 1M', 'write 10M 64k']);
    const img = await openQcow2(path, { readOnly: true });
    const loaded = await img.instance.loadBitmaps!();
    await img.close();
    expect(loaded.map((b) => [b.name, b.granularity, b.enabled, b.inconsistent ?? false])).toEqual([
      ['q1', 65536, true, false],
      ['q2', 65536, false, false],
    ]);
    expect(Buffer.from(loaded[0]!.bits).equals(Buffer.from(bitsFor(SIZE, 65536, [[0, MiB], [10 * MiB, 65536]])))).toBe(true);
    expect(loaded[1]!.bits.every((x) => x === 0)).toBe(true);
  });

  it('flags enabled bitmaps in-use on the first write, so that a crash leaves them inconsistent', async () => {
    const path = tmp.path('inuse.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, String(SIZE)]);
    mustRun('qemu-img', ['bitmap', '--add', path, 'live']);
    mustRun('qemu-img', ['bitmap', '--add', '--disable', path, 'frozen']);
    const img = await openQcow2(path);
    const flags = (): unknown => (qemuImgInfo(path, ['-U']) as { 'format-specific': { data: { bitmaps: { flags: string[] }[] } } })['format-specific'].data.bitmaps.map((b) => b.flags);
    expect(flags()).toEqual([['auto'], []]);
    await img.instance.write!(0, Buffer.alloc(4096, 1), {});
    expect(flags()).toEqual([['in-use', 'auto'], []]);
    await img.close();
    const again = await openQcow2(path, { readOnly: true });
    const loaded = await again.instance.loadBitmaps!();
    await again.close();
    expect(loaded.map((b) => b.inconsistent ?? false)).toEqual([true, false]);
  });

  it('replaces and finally drops bitmaps without leaking clusters', async () => {
    const path = tmp.path('replace.qcow2');
    await newImage(path);
    const img = await openQcow2(path);
    for (let round = 0; round < 5; round++) {
      const bitmaps = Array.from({ length: round + 1 }, (_, i) => ({
        name: `r${round}-${i}`,
        granularity: 65536 << (i % 3),
        enabled: i % 2 === 0,
        bits: bitsFor(SIZE, 65536 << (i % 3), [[i * MiB, (round + 1) * MiB]]),
      }));
      await img.instance.storeBitmaps!(bitmaps);
      await img.instance.write!(round * MiB, Buffer.alloc(65536, round), {});
      await img.instance.flush!();
      expectClean(path);
    }
    await img.instance.storeBitmaps!([]);
    await img.close();
    expectClean(path);
    const info = qemuImgInfo(path) as { 'format-specific': { data: Record<string, unknown> } };
    expect(info['format-specific'].data['bitmaps']).toBeUndefined();
  });

  it('keeps bitmaps its caller never loaded when storing others', async () => {
    const path = tmp.path('keep.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, String(SIZE)]);
    mustRun('qemu-img', ['bitmap', '--add', path, 'theirs']);
    mustRun('qemu-img', ['bitmap', '--add', '--disable', path, 'frozen']);
    qemuIo(path, ['write 0 64k']);
    const untouched = await openQcow2(path);
    await untouched.instance.storeBitmaps!([]);
    await untouched.close();
    const img = await openQcow2(path);
    await img.instance.write!(MiB, Buffer.alloc(4096, 1), {});
    await img.instance.storeBitmaps!([{ name: 'mine', granularity: 65536, enabled: true, bits: bitsFor(SIZE, 65536, [[MiB, 4096]]) }]);
    await img.close();
    const info = qemuImgInfo(path) as { 'format-specific': { data: { bitmaps: unknown[] } } };
    expect(info['format-specific'].data.bitmaps).toEqual([
      { flags: ['in-use', 'auto'], name: 'theirs', granularity: 65536 },
      { flags: [], name: 'frozen', granularity: 65536 },
      { flags: ['auto'], name: 'mine', granularity: 65536 },
    ]);
    expectClean(path);
    expect(await qemuDirtyMap(path, 'mine', tmp.path('nbd3.sock'))).toBe(`${MiB}+65536`);
  });
});
