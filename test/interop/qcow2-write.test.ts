/**
 * Images written by qmpd's qcow2 driver must be images QEMU agrees with:
 * `qemu-img check` finds no errors and no leaks, and `qemu-img compare`
 * against a raw file written the same way finds them identical.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { DriverInstance } from '../../src/block/drivers/driver.js';
import { formatQcow2 } from '../../src/block/drivers/qcow2/create.js';
import { FileChild, InstanceChild } from '../helpers/file-child.js';
import { openQcow2 } from '../helpers/qcow2.js';
import { mustRun, qemuImgCheck, qemuIo, tempDir, tool } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const MiB = 1024 * 1024;

/** Deterministic PRNG (mulberry32) so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + (i >> 9)) & 0xff;
  return b;
}

async function newImage(path: string, size: number, opts: Omit<Parameters<typeof formatQcow2>[1], 'size'> = {}): Promise<void> {
  writeFileSync(path, '');
  const f = await FileChild.open(path);
  await formatQcow2(f, { size, ...opts });
  await f.close();
}

function expectClean(path: string): void {
  const c = qemuImgCheck(path);
  expect(c.stderr).toBe('');
  expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks, checkErrors: c.checkErrors }).toEqual({
    status: 0,
    corruptions: 0,
    leaks: 0,
    checkErrors: 0,
  });
}

function expectIdentical(qcow2: string, raw: string): void {
  const r = tool('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', qcow2, raw]);
  expect(r.stdout + r.stderr).toContain('Images are identical.');
}

type Op = { kind: 'write'; off: number; data: Buffer } | { kind: 'zero'; off: number; len: number; unmap: boolean } | { kind: 'discard'; off: number; len: number };

function randomOps(n: number, size: number, maxLen: number, seed: number, kinds: Op['kind'][] = ['write']): Op[] {
  const r = rng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(r() * maxLen);
    const off = Math.floor(r() * (size - len));
    const kind = kinds[Math.floor(r() * kinds.length)]!;
    if (kind === 'write') ops.push({ kind, off, data: pattern(len, i + seed) });
    else if (kind === 'zero') ops.push({ kind, off, len, unmap: r() < 0.5 });
    else ops.push({ kind, off, len });
  }
  return ops;
}

/** Applies ops to the image and to the reference buffer (discard: only the image; reference takes its read-back). */
async function apply(inst: DriverInstance, ref: Buffer, ops: Op[]): Promise<void> {
  for (const op of ops) {
    if (op.kind === 'write') {
      await inst.write!(op.off, op.data, {});
      op.data.copy(ref, op.off);
    } else if (op.kind === 'zero') {
      await inst.writeZeroes!(op.off, op.len, { mayUnmap: op.unmap });
      ref.fill(0, op.off, op.off + op.len);
    } else {
      await inst.discard!(op.off, op.len);
      const back = Buffer.alloc(op.len);
      await inst.read(op.off, back);
      back.copy(ref, op.off);
    }
  }
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('qcow2 images written by qmpd', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  const layouts: [string, number, number, number, number][] = [
    // name, cluster size, virtual size, writes, refcount bits
    ['64 KiB clusters', 64 * 1024, 64 * MiB, 300, 16],
    ['4 KiB clusters', 4096, 32 * MiB, 300, 16],
    ['512-byte clusters (new refcount blocks, refcount table growth)', 512, 24 * MiB, 400, 16],
    ['2 MiB clusters', 2 * MiB, 64 * MiB, 60, 16],
    ['1-bit refcounts and 512-byte clusters', 512, 16 * MiB, 300, 1],
    ['4-bit refcounts', 4096, 16 * MiB, 200, 4],
    ['64-bit refcounts', 4096, 16 * MiB, 200, 64],
  ];
  for (const [name, cs, size, n, refcountBits] of layouts) {
    it(`pass qemu-img check and compare equal after random writes with ${name}`, async () => {
      const q = tmp.path(`w-${cs}-${refcountBits}.qcow2`);
      const raw = tmp.path(`w-${cs}-${refcountBits}.raw`);
      await newImage(q, size, { clusterSize: cs, refcountBits });
      const ref = Buffer.alloc(size);
      const img = await openQcow2(q);
      await apply(img.instance, ref, randomOps(n, size, 256 * 1024, cs + refcountBits));
      const back = Buffer.alloc(size);
      await img.instance.read(0, back);
      expect(back.equals(ref)).toBe(true);
      await img.close();
      writeFileSync(raw, ref);
      expectClean(q);
      expectIdentical(q, raw);
      // 512-byte clusters, 16-bit refcounts: one refcount table cluster covers 8 MiB of file, so it must have grown
      if (cs === 512 && refcountBits === 16) expect(readFileSync(q).readUInt32BE(56)).toBeGreaterThan(1);
    });
  }

  for (const compat of ['1.1', '0.10'] as const) {
    it(`keeps refcounts exact through writes, zero writes and discards mixed (compat ${compat})`, async () => {
      const q = tmp.path(`mixed-${compat}.qcow2`);
      const raw = tmp.path(`mixed-${compat}.raw`);
      const size = 16 * MiB;
      await newImage(q, size, { clusterSize: 4096, compat });
      const ref = Buffer.alloc(size);
      const img = await openQcow2(q);
      await apply(img.instance, ref, randomOps(500, size, 200 * 1024, 7, ['write', 'write', 'zero', 'discard']));
      await img.close();
      writeFileSync(raw, ref);
      expectClean(q);
      expectIdentical(q, raw);
    });
  }

  it('copies backing data into partially written clusters of an overlay', async () => {
    const base = tmp.path('base.qcow2');
    const top = tmp.path('top.qcow2');
    const raw = tmp.path('top.raw');
    const size = 8 * MiB;
    mustRun('qemu-img', ['create', '-f', 'qcow2', base, String(size)]);
    qemuIo(base, ['write -P 0xaa 0 3M', 'write -P 0xbb 5M 1M', 'write -z 2M 64k']);
    await newImage(top, size, { clusterSize: 65536, backingFile: base, backingFormat: 'qcow2' });
    const baseImg = await openQcow2(base, { readOnly: true });
    const ref = Buffer.alloc(size);
    await baseImg.instance.read(0, ref);
    const img = await openQcow2(top, { backing: new InstanceChild('base', baseImg.instance) });
    await apply(img.instance, ref, randomOps(200, size, 100 * 1024, 3, ['write', 'write', 'zero', 'discard']));
    await img.close();
    await baseImg.close();
    writeFileSync(raw, ref);
    expectClean(top);
    expectIdentical(top, raw);
  });

  it('stays consistent with many writes in flight at once', async () => {
    const q = tmp.path('concurrent.qcow2');
    const raw = tmp.path('concurrent.raw');
    const size = 32 * MiB;
    await newImage(q, size, { clusterSize: 65536 });
    const ref = Buffer.alloc(size);
    const img = await openQcow2(q);
    const r = rng(11);
    for (let round = 0; round < 20; round++) {
      // disjoint 4 KiB-aligned slots, many sharing a cluster, all in flight together
      const slots = new Set<number>();
      while (slots.size < 32) slots.add(Math.floor(r() * (size / 4096 - 8)));
      const writes = [...slots].map((s, i) => {
        const data = pattern(4096 * (1 + (i % 4)), round * 100 + i);
        return { off: s * 4096, data };
      });
      const taken = new Set<number>();
      const ok = writes.filter((w) => {
        for (let p = w.off; p < w.off + w.data.length; p += 4096) if (taken.has(p)) return false;
        for (let p = w.off; p < w.off + w.data.length; p += 4096) taken.add(p);
        return true;
      });
      await Promise.all(ok.map((w) => img.instance.write!(w.off, w.data, {})));
      for (const w of ok) w.data.copy(ref, w.off);
    }
    await img.close();
    writeFileSync(raw, ref);
    expectClean(q);
    expectIdentical(q, raw);
  });

  it('leaves an image that QEMU can keep writing to and still finds clean', async () => {
    const q = tmp.path('handover.qcow2');
    await newImage(q, 8 * MiB, { clusterSize: 65536 });
    const img = await openQcow2(q);
    await img.instance.write!(100_000, pattern(300_000, 1), {});
    await img.close();
    qemuIo(q, ['write -P 0x33 0 1M', 'write -z 4M 1M', 'discard 200k 64k']);
    expectClean(q);
    const again = await openQcow2(q);
    const buf = Buffer.alloc(MiB);
    await again.instance.read(0, buf);
    expect(buf.every((x) => x === 0x33)).toBe(true);
    await again.close();
  });

  it('makes a discarded range read as zeroes over a backing file even where no L2 table exists yet', async () => {
    const base = tmp.path('discard-base.qcow2');
    mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', base, '4M']);
    qemuIo(base, ['write -P 0x44 0 4M']);
    const theirs = tmp.path('discard-q.qcow2');
    const ours = tmp.path('discard-m.qcow2');
    for (const p of [theirs, ours]) mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', p, '4M']);
    qemuIo(theirs, ['discard 0 1M']);
    const baseImg = await openQcow2(base, { readOnly: true });
    const img = await openQcow2(ours, { backing: new InstanceChild('base', baseImg.instance) });
    await img.instance.discard!(0, MiB);
    const back = Buffer.alloc(MiB, 1);
    await img.instance.read(0, back);
    expect(back.every((x) => x === 0)).toBe(true);
    await img.close();
    await baseImg.close();
    expectClean(ours);
    expect(mustRun('qemu-img', ['map', '--output=json', ours])).toBe(mustRun('qemu-img', ['map', '--output=json', theirs]));
  });
});
