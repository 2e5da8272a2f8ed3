/**
 * Property tests for internal snapshots: random mixes of writes, zero
 * writes, discards, resizes, snapshot creates and deletes against a model.
 * Every snapshot must keep the content it was taken with, the active image
 * must read like the model, and the refcounts (checked independently of the
 * driver, snapshots included) must have no error and no leak.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DriverInstance } from '../../../../src/block/drivers/driver.js';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';
import { readSnapshot, snapshotCheck } from '../../../helpers/qcow2-snapshot-check.js';
import { refusal } from '../../../helpers/refusal.js';

const SIZE = 160 * 1024;
const MAX_SIZE = 256 * 1024;

type Op =
  | { t: 'write'; at: number; span: number; seed: number }
  | { t: 'zero'; at: number; span: number; unmap: boolean }
  | { t: 'discard'; at: number; span: number }
  | { t: 'snap' }
  | { t: 'delete'; pick: number; byId: boolean }
  | { t: 'resize'; size: number };

/** Offsets and lengths are fractions of the size the image has when the op runs. */
const frac = fc.double({ min: 0, max: 0.999, noNaN: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('write' as const), at: frac, span: frac, seed: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('zero' as const), at: frac, span: frac, unmap: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('discard' as const), at: frac, span: frac }) },
  { weight: 3, arbitrary: fc.constant({ t: 'snap' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), pick: fc.nat(), byId: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('resize' as const), size: fc.integer({ min: 1, max: MAX_SIZE / 512 }) }) },
);

function fill(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

interface State {
  cs: number;
  v2: boolean;
  img: DriverInstance;
  file: MemChild;
  model: Buffer;
  /** snapshot name -> id and content when taken, in creation order */
  snaps: Map<string, { id: string; data: Buffer }>;
  counter: number;
}

async function fresh(cs: number, compat: '0.10' | '1.1', refcountBits = 16): Promise<State> {
  const file = new MemChild('img');
  await formatQcow2(file, { size: SIZE, clusterSize: cs, compat, refcountBits });
  const img = await openOnChild(file);
  return { cs, v2: compat === '0.10', img, file, model: Buffer.alloc(SIZE), snaps: new Map(), counter: 0 };
}

function range(s: State, at: number, span: number): { off: number; len: number } {
  const size = s.model.length;
  const off = Math.floor(at * size);
  return { off, len: Math.max(1, Math.floor(span * (size - off) * 0.5)) };
}

async function apply(s: State, op: Op): Promise<void> {
  const size = s.model.length;
  switch (op.t) {
    case 'write': {
      const { off, len } = range(s, op.at, op.span);
      const data = fill(len, op.seed);
      await s.img.write!(off, data, {});
      data.copy(s.model, off);
      return;
    }
    case 'zero': {
      const { off, len } = range(s, op.at, op.span);
      await s.img.writeZeroes!(off, len, { mayUnmap: op.unmap });
      s.model.fill(0, off, off + len);
      return;
    }
    case 'discard': {
      const { off, len } = range(s, op.at, op.span);
      await s.img.discard!(off, len);
      // whole clusters read as zeroes afterwards (no backing file); partial ones keep their data
      const a = Math.ceil(off / s.cs) * s.cs;
      const b = off + len >= size ? size : Math.floor((off + len) / s.cs) * s.cs;
      if (a < b) s.model.fill(0, a, b);
      return;
    }
    case 'snap': {
      const name = `s${s.counter++}`;
      const info = await s.img.createSnapshot!(name);
      expect(info.name).toBe(name);
      expect(info.diskSize).toBe(size);
      s.snaps.set(name, { id: info.id, data: Buffer.from(s.model) });
      return;
    }
    case 'delete': {
      const names = [...s.snaps.keys()];
      if (names.length === 0) return;
      const name = names[op.pick % names.length]!;
      const id = s.snaps.get(name)!.id;
      const info = op.byId ? await s.img.deleteSnapshot!(id, undefined) : await s.img.deleteSnapshot!(undefined, name);
      expect([info.id, info.name]).toEqual([id, name]);
      s.snaps.delete(name);
      return;
    }
    case 'resize': {
      // whole clusters only: a shrink to mid-cluster keeps the cut-off bytes, as QEMU's does
      const next = Math.max(s.cs, Math.ceil((op.size * 512) / s.cs) * s.cs);
      if (s.v2 && s.snaps.size > 0) {
        expect(await refusal(s.img.truncate!(next))).toBe("Can't resize a v2 image which has snapshots");
        return;
      }
      await s.img.truncate!(next);
      const m = Buffer.alloc(next);
      s.model.copy(m, 0, 0, Math.min(next, size));
      s.model = m;
    }
  }
}

async function verify(s: State): Promise<void> {
  expect(s.img.length()).toBe(s.model.length);
  const all = Buffer.alloc(s.model.length);
  await s.img.read(0, all);
  expect(all.equals(s.model)).toBe(true);
  expect(s.img.listSnapshots!().map((x) => x.name)).toEqual([...s.snaps.keys()]);
  await s.img.flush!();
  const bytes = s.file.contents();
  const check = snapshotCheck(bytes);
  expect({ corruptions: check.corruptions, leaks: check.leaks }).toEqual({ corruptions: [], leaks: [] });
  for (const [name, { data }] of s.snaps) expect(readSnapshot(bytes, name).equals(data)).toBe(true);
}

describe('internal snapshots compared with a model', () => {
  const configs = [
    [512, '1.1', 16],
    [4096, '1.1', 16],
    [4096, '0.10', 16],
    [1024, '1.1', 4],
  ] as const;
  for (const [cs, compat, bits] of configs) {
    it(`keeps every snapshot as it was taken while the image changes (${cs}-byte clusters, compat ${compat}, ${bits}-bit refcounts)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
          const s = await fresh(cs, compat, bits);
          for (const op of ops) {
            // 4-bit refcounts hold 15 references: stop taking snapshots well before that
            if (op.t === 'snap' && bits === 4 && s.snaps.size >= 6) continue;
            await apply(s, op);
          }
          await verify(s);
          await s.img.close();
          // everything reached the file: a reopened image shows the same
          const again = await openOnChild(s.file);
          s.img = again;
          await verify(s);
        }),
        { numRuns: 30 },
      );
    });
  }

  it('takes a snapshot that no write running alongside its creation changes afterwards, and sees each such write whole or not at all', async () => {
    const slot = 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: SIZE / slot - 1 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 24,
        }),
        fc.nat({ max: 24 }),
        fc.integer(),
        async (reqs, snapAt, seed) => {
          const s = await fresh(4096, '1.1');
          await s.img.write!(0, fill(SIZE, 3), {});
          fill(SIZE, 3).copy(s.model);
          let x = seed;
          // now and then a request is slow enough to outlast the whole snapshot creation
          s.file.jitter = () => {
            x = (Math.imul(x, 1103515245) + 12345) | 0;
            const r = (x >>> 16) % 64;
            return r < 6 ? 200 : r % 4;
          };
          const taken = new Set<number>();
          const writes: { off: number; data: Buffer }[] = [];
          for (const [first, n, sd] of reqs) {
            const slots = Array.from({ length: n }, (_, k) => first + k).filter((v) => v < SIZE / slot);
            if (slots.some((v) => taken.has(v))) continue;
            slots.forEach((v) => taken.add(v));
            writes.push({ off: first * slot, data: fill(slots.length * slot, sd) });
          }
          const before = Buffer.from(s.model);
          const jobs: Promise<unknown>[] = writes.map((w) => s.img.write!(w.off, w.data, {}));
          // what the snapshot holds the moment it is taken must never change afterwards
          let atCreation: Buffer | undefined;
          const snap = s.img.createSnapshot!('mid').then(() => {
            atCreation = readSnapshot(s.file.contents(), 'mid');
          });
          jobs.splice(Math.min(snapAt, jobs.length), 0, snap);
          await Promise.all(jobs);
          for (const w of writes) w.data.copy(s.model, w.off);
          await s.img.flush!();
          const bytes = s.file.contents();
          expect(snapshotCheck(bytes).corruptions).toEqual([]);
          expect(snapshotCheck(bytes).leaks).toEqual([]);
          const later = readSnapshot(bytes, 'mid');
          expect(later.equals(atCreation!)).toBe(true);
          for (const w of writes) {
            const got = later.subarray(w.off, w.off + w.data.length);
            const old = before.subarray(w.off, w.off + w.data.length);
            expect(got.equals(w.data) || got.equals(old)).toBe(true);
          }
          const all = Buffer.alloc(SIZE);
          await s.img.read(0, all);
          expect(all.equals(s.model)).toBe(true);
          await s.img.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
