/**
 * A fast-check property for images with extended L2 entries over a backing
 * file: random writes, zero writes (with and without unmap) and discards,
 * at any offset and length, applied through qmpd's driver and by qemu-io to
 * a twin. The backing file has data, zero clusters and unallocated space,
 * so zero writes that only partly cover a subcluster sometimes may and
 * sometimes may not mark it zero. qmpd's image must read as the model says,
 * check clean, and have the same subcluster bitmaps and `qemu-img map` (host
 * offsets aside) as QEMU's.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyWithQemu, applyWithQmpd, dumpExtendedL2, mapWithoutHosts, twins, type SubOp,
} from '../helpers/qcow2-subclusters.js';
import { mustRun, qemuImgCheck, qemuIo, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const KiB = 1024;
/** Not a multiple of the cluster nor of the subcluster size: the image's end is a case too. */
const SIZE = 1024 * KiB + 2560;
const BACKING_BYTE = 0x5a;
/** The backing file has data up to here, with zero clusters inside, and nothing after it. */
const BACKING_DATA_END = 600 * KiB;
const BACKING_ZERO: [number, number] = [400 * KiB, 450 * KiB];

function opArb(cs: number): fc.Arbitrary<SubOp> {
  const sub = cs / 32;
  // offsets and lengths on subcluster boundaries half of the time
  const point = fc.oneof(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 0, max: Math.floor((SIZE - 1) / sub) }).map((n) => n * sub));
  const span = fc.oneof(fc.integer({ min: 1, max: 3 * cs }), fc.integer({ min: 1, max: 40 }).map((n) => n * sub));
  const range = fc.tuple(point, span).map(([off, len]) => ({ off, len: Math.min(len, SIZE - off) }));
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(range, fc.integer({ min: 1, max: 255 })).map(([r, pattern]) => ({ kind: 'write' as const, ...r, pattern })) },
    { weight: 3, arbitrary: fc.tuple(range, fc.boolean()).map(([r, unmap]) => ({ kind: 'zero' as const, ...r, unmap })) },
    { weight: 1, arbitrary: range.map((r) => ({ kind: 'discard' as const, ...r })) },
  );
}

/** What the guest reads after `ops`: discards drop whole clusters, which then read as zeroes over a backing file. */
function model(ops: SubOp[], cs: number): Buffer {
  const m = Buffer.alloc(SIZE);
  m.fill(BACKING_BYTE, 0, BACKING_DATA_END);
  m.fill(0, ...BACKING_ZERO);
  for (const op of ops) {
    const end = op.off + op.len;
    if (op.kind === 'write') m.fill(op.pattern, op.off, end);
    else if (op.kind === 'zero') m.fill(0, op.off, end);
    else {
      const a = Math.ceil(op.off / cs) * cs;
      const b = end >= SIZE ? SIZE : Math.floor(end / cs) * cs;
      if (a < b) m.fill(0, a, b);
    }
  }
  return m;
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('extended L2 entries under random operations over a backing file', () => {
  const tmp = tempDir('qmpd-subprop-');
  afterAll(() => tmp.remove());
  const base = tmp.path('base.qcow2');
  mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', base, String(SIZE)]);
  qemuIo(base, [
    `write -q -P ${BACKING_BYTE} 0 ${BACKING_DATA_END}`,
    `write -q -z ${BACKING_ZERO[0]} ${BACKING_ZERO[1] - BACKING_ZERO[0]}`,
  ]);
  let run = 0;

  for (const cs of [16 * KiB, 64 * KiB]) {
    it(`reads as the model and matches QEMU's bitmaps and map (${cs / KiB} KiB clusters)`, async () => {
      const src = tmp.path(`src-${cs}.qcow2`);
      mustRun('qemu-img', [
        'create', '-q', '-f', 'qcow2', '-o', `extended_l2=on,cluster_size=${cs},backing_file=${base},backing_fmt=qcow2`, src, String(SIZE),
      ]);
      await fc.assert(
        fc.asyncProperty(fc.array(opArb(cs), { minLength: 1, maxLength: 20 }), async (ops) => {
          const q = tmp.path(`q${run}.qcow2`);
          const m = tmp.path(`m${run++}.qcow2`);
          twins(src, q, m);
          await applyWithQmpd(m, ops, base);
          applyWithQemu(q, ops);
          const c = qemuImgCheck(m);
          expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks, stderr: c.stderr }).toEqual({
            status: 0, corruptions: 0, leaks: 0, stderr: '',
          });
          const raw = tmp.path(`m${run - 1}.raw`);
          mustRun('qemu-img', ['convert', '-O', 'raw', m, raw]);
          expect(readFileSync(raw).equals(model(ops, cs))).toBe(true);
          expect(dumpExtendedL2(m, false)).toEqual(dumpExtendedL2(q, false));
          expect(mapWithoutHosts(m)).toEqual(mapWithoutHosts(q));
        }),
        { numRuns: 30 },
      );
    }, 120_000);
  }
});
