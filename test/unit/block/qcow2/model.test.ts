/**
 * Property tests: random sequences of writes, zero writes, discards and reads
 * on a qcow2 overlay over a backing image behave exactly like a flat byte
 * array, one request at a time and with many requests in flight.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DriverInstance } from '../../../../src/block/drivers/driver.js';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { InstanceChild, MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';
import { miniCheck } from '../../../helpers/qcow2-check.js';

const SIZE = 256 * 1024;
const BACKING_SIZE = 160 * 1024;

type Op =
  | { t: 'write'; off: number; len: number; seed: number }
  | { t: 'zero'; off: number; len: number; unmap: boolean }
  | { t: 'discard'; off: number; len: number }
  | { t: 'read'; off: number; len: number };

const range = fc
  .tuple(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 1, max: 40 * 1024 }))
  .map(([off, len]) => ({ off, len: Math.min(len, SIZE - off) }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(range, fc.integer({ min: 1, max: 255 })).map(([r, seed]) => ({ t: 'write' as const, ...r, seed })) },
  { weight: 2, arbitrary: fc.tuple(range, fc.boolean()).map(([r, unmap]) => ({ t: 'zero' as const, ...r, unmap })) },
  { weight: 1, arbitrary: range.map((r) => ({ t: 'discard' as const, ...r })) },
  { weight: 3, arbitrary: range.map((r) => ({ t: 'read' as const, ...r })) },
);

function fill(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i * 13) & 0xff;
  return b;
}

interface Chain {
  cs: number;
  top: DriverInstance;
  model: Buffer;
  file: MemChild;
  backing: InstanceChild;
}

async function makeChain(clusterSize: number, version: '0.10' | '1.1'): Promise<Chain> {
  const baseFile = new MemChild('base');
  await formatQcow2(baseFile, { size: BACKING_SIZE, clusterSize: 4096 });
  const base = await openOnChild(baseFile);
  await base.write!(0, fill(BACKING_SIZE, 99), {});
  await base.writeZeroes!(16 * 1024, 8192, {});
  const model = Buffer.alloc(SIZE);
  await base.read(0, model.subarray(0, BACKING_SIZE));
  const file = new MemChild('top');
  await formatQcow2(file, { size: SIZE, clusterSize, backingFile: 'base', backingFormat: 'qcow2', compat: version });
  const backing = new InstanceChild('base', base);
  const top = await openOnChild(file, backing);
  return { cs: clusterSize, top, model, file, backing };
}

/** Applies one op to image and model; discards only change the model to what the image reads back. */
async function applyOp(c: Chain, op: Op): Promise<void> {
  switch (op.t) {
    case 'write': {
      const data = fill(op.len, op.seed);
      await c.top.write!(op.off, data, {});
      data.copy(c.model, op.off);
      return;
    }
    case 'zero':
      await c.top.writeZeroes!(op.off, op.len, { mayUnmap: op.unmap });
      c.model.fill(0, op.off, op.off + op.len);
      return;
    case 'discard': {
      await c.top.discard!(op.off, op.len);
      const back = Buffer.alloc(op.len);
      await c.top.read(op.off, back);
      // a discard may drop whole clusters only; it never changes anything else
      const cs = c.cs;
      const first = Math.ceil(op.off / cs) * cs;
      const last = Math.floor((op.off + op.len) / cs) * cs;
      for (let i = 0; i < op.len; i++) {
        const pos = op.off + i;
        if (pos < first || pos >= last) expect(back[i]).toBe(c.model[pos]);
      }
      back.copy(c.model, op.off);
      return;
    }
    case 'read': {
      const buf = Buffer.alloc(op.len);
      await c.top.read(op.off, buf);
      expect(buf.equals(c.model.subarray(op.off, op.off + op.len))).toBe(true);
    }
  }
}

describe('a qcow2 overlay compared with a flat model', () => {
  for (const [cs, version] of [[512, '1.1'], [4096, '1.1'], [65536, '1.1'], [4096, '0.10']] as const) {
    it(`reads back what was written, one request at a time (${cs}-byte clusters, compat ${version})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
          const c = await makeChain(cs, version);
          for (const op of ops) await applyOp(c, op);
          const all = Buffer.alloc(SIZE);
          await c.top.read(0, all);
          expect(all.equals(c.model)).toBe(true);
          await c.top.close();
          expect(miniCheck(c.file.contents())).toEqual({ corruptions: [], leaks: [] });
          // reopening from the file alone gives the same content: the metadata reached the file
          const again = await openOnChild(c.file, c.backing);
          const all2 = Buffer.alloc(SIZE);
          await again.read(0, all2);
          expect(all2.equals(c.model)).toBe(true);
        }),
        { numRuns: 40 },
      );
    });
  }

  it('gives every in-flight write its own bytes when many run at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: SIZE / 1024 - 1 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 48,
        }),
        fc.integer(),
        async (reqs, seed) => {
          const c = await makeChain(4096, '1.1');
          let x = seed;
          c.file.jitter = () => {
            x = (Math.imul(x, 1103515245) + 12345) | 0;
            return (x >>> 16) % 4;
          };
          // disjoint 1 KiB-slot ranges, so that the result does not depend on completion order
          const taken = new Set<number>();
          const writes = reqs.flatMap(([slot, n, seed]) => {
            const slots = Array.from({ length: n }, (_, k) => slot + k).filter((s) => s < SIZE / 1024);
            if (slots.some((s) => taken.has(s))) return [];
            slots.forEach((s) => taken.add(s));
            return [{ off: slot * 1024, data: fill(slots.length * 1024, seed) }];
          });
          const reads = writes.map(() => Buffer.alloc(8192));
          await Promise.all([
            ...writes.map((w) => c.top.write!(w.off, w.data, {})),
            ...reads.map((b, i) => c.top.read((i * 7919) % (SIZE - 8192), b)),
          ]);
          for (const w of writes) w.data.copy(c.model, w.off);
          const all = Buffer.alloc(SIZE);
          await c.top.read(0, all);
          expect(all.equals(c.model)).toBe(true);
          await c.top.close();
          expect(miniCheck(c.file.contents())).toEqual({ corruptions: [], leaks: [] });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps data and refcounts right with writes, zero writes and discards in flight together', async () => {
    const slotOp = fc.tuple(
      fc.integer({ min: 0, max: SIZE / 1024 - 1 }),
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom('write', 'write', 'zero', 'unmap', 'discard'),
      fc.integer({ min: 1, max: 255 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(slotOp, { minLength: 1, maxLength: 40 }), fc.integer(), async (reqs, seed) => {
        const c = await makeChain(4096, '1.1');
        // prime the image so that zero writes and discards have clusters to drop
        await c.top.write!(0, fill(SIZE, 7), {});
        fill(SIZE, 7).copy(c.model);
        let x = seed;
        c.file.jitter = () => {
          x = (Math.imul(x, 1103515245) + 12345) | 0;
          return (x >>> 16) % 4;
        };
        const taken = new Set<number>();
        const jobs: Promise<void>[] = [];
        const after: (() => void)[] = [];
        for (const [slot, n, kind, s] of reqs) {
          const slots = Array.from({ length: n }, (_, k) => slot + k).filter((v) => v < SIZE / 1024);
          if (slots.some((v) => taken.has(v))) continue;
          slots.forEach((v) => taken.add(v));
          const off = slot * 1024;
          const len = slots.length * 1024;
          if (kind === 'write') {
            const data = fill(len, s);
            jobs.push(c.top.write!(off, data, {}));
            after.push(() => data.copy(c.model, off));
          } else if (kind === 'zero' || kind === 'unmap') {
            jobs.push(c.top.writeZeroes!(off, len, { mayUnmap: kind === 'unmap' }));
            after.push(() => c.model.fill(0, off, off + len));
          } else {
            jobs.push(c.top.discard!(off, len));
            // v3 over a backing file: whole clusters read as zeroes afterwards
            const a = Math.ceil(off / 4096) * 4096;
            const b = Math.floor((off + len) / 4096) * 4096;
            after.push(() => {
              if (a < b) c.model.fill(0, a, b);
            });
          }
        }
        await Promise.all(jobs);
        after.forEach((f) => f());
        const all = Buffer.alloc(SIZE);
        await c.top.read(0, all);
        expect(all.equals(c.model)).toBe(true);
        await c.top.close();
        expect(miniCheck(c.file.contents())).toEqual({ corruptions: [], leaks: [] });
      }),
      { numRuns: 60 },
    );
  });
});
