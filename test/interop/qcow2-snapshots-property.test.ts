/**
 * A fast-check property checked by QEMU itself: random writes, zero writes,
 * discards, snapshot creates and deletes through qmpd's driver on a real
 * file; then `qemu-img check` is clean, `qemu-img snapshot -l` lists exactly
 * the snapshots of the model, `qemu-img convert` reads the model, and
 * `qemu-img snapshot -a` of each snapshot (on a copy) gives back the content
 * it had when it was taken.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../src/block/drivers/qcow2/create.js';
import { FileChild } from '../helpers/file-child.js';
import { openQcow2 } from '../helpers/qcow2.js';
import { contentAt, listed } from '../helpers/qcow2-snapshot-tools.js';
import { mustRun, qemuImgCheck, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const SIZE = 512 * 1024;
const CLUSTER = 4096;

type Op =
  | { t: 'write'; off: number; len: number; seed: number }
  | { t: 'zero'; off: number; len: number; unmap: boolean }
  | { t: 'discard'; off: number; len: number }
  | { t: 'snap' }
  | { t: 'delete'; pick: number };

const range = fc
  .tuple(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 1, max: 96 * 1024 }))
  .map(([off, len]) => ({ off, len: Math.min(len, SIZE - off) }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(range, fc.integer({ min: 1, max: 255 })).map(([r, seed]) => ({ t: 'write' as const, ...r, seed })) },
  { weight: 2, arbitrary: fc.tuple(range, fc.boolean()).map(([r, unmap]) => ({ t: 'zero' as const, ...r, unmap })) },
  { weight: 1, arbitrary: range.map((r) => ({ t: 'discard' as const, ...r })) },
  { weight: 2, arbitrary: fc.constant({ t: 'snap' as const }) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ t: 'delete' as const, pick })) },
);

function fill(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i) & 0xff;
  return b;
}

describe.skipIf(skipWithout('qemu-img'))('internal snapshots under random operations, checked by QEMU', () => {
  const tmp = tempDir('qmpd-snapprop-');
  afterAll(() => tmp.remove());
  let run = 0;

  it('keeps what every snapshot held when it was taken, as qemu-img snapshot -a restores it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 24 }), async (ops) => {
        const path = tmp.path(`p${run++}.qcow2`);
        writeFileSync(path, '');
        const f = await FileChild.open(path);
        await formatQcow2(f, { size: SIZE, clusterSize: CLUSTER });
        await f.close();
        const img = await openQcow2(path);
        const model = Buffer.alloc(SIZE);
        const snaps = new Map<string, Buffer>();
        let n = 0;
        for (const op of ops) {
          if (op.t === 'write') {
            const data = fill(op.len, op.seed);
            await img.instance.write!(op.off, data, {});
            data.copy(model, op.off);
          } else if (op.t === 'zero') {
            await img.instance.writeZeroes!(op.off, op.len, { mayUnmap: op.unmap });
            model.fill(0, op.off, op.off + op.len);
          } else if (op.t === 'discard') {
            await img.instance.discard!(op.off, op.len);
            const a = Math.ceil(op.off / CLUSTER) * CLUSTER;
            const b = op.off + op.len >= SIZE ? SIZE : Math.floor((op.off + op.len) / CLUSTER) * CLUSTER;
            if (a < b) model.fill(0, a, b);
          } else if (op.t === 'snap') {
            const name = `snap${n++}`;
            await img.instance.createSnapshot!(name);
            snaps.set(name, Buffer.from(model));
          } else if (snaps.size > 0) {
            const name = [...snaps.keys()][op.pick % snaps.size]!;
            await img.instance.deleteSnapshot!(undefined, name);
            snaps.delete(name);
          }
        }
        await img.close();
        expect(qemuImgCheck(path)).toMatchObject({ status: 0, corruptions: 0, leaks: 0 });
        expect(listed(path).map(([, tag]) => tag)).toEqual([...snaps.keys()]);
        mustRun('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, `${path}.raw`]);
        expect(readFileSync(`${path}.raw`).equals(model)).toBe(true);
        for (const [name, data] of snaps) expect(contentAt(path, name, `${path}.${name}`).equals(data)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});
