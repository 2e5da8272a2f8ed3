/**
 * Crash safety of snapshot create and delete, copy-on-write of shared L2
 * tables and data, and shrinking: whatever subset of the writes issued since
 * the last flush reaches the disk, no cluster is referenced more often than
 * its refcount says (leaks are allowed), and every snapshot the crashed
 * file lists still holds exactly the data it was taken with.
 * A COPIED flag that lags behind a refcount change is allowed, as in QEMU:
 * refcounts and L2 tables cannot reach the disk in one write, and
 * `qemu-img check -r all` repairs the flag.
 */
import { describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { CrashRecorder } from '../../../helpers/crash-recorder.js';
import { MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';
import { readSnapshot, snapshotCheck } from '../../../helpers/qcow2-snapshot-check.js';

const SIZE = 1024 * 1024;

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i * 5) & 0xff;
  return b;
}

describe('qcow2 snapshots after a simulated crash', () => {
  for (const cs of [512, 4096]) {
    it(`never under-count a reference and never change a listed snapshot, at any crash point (${cs}-byte clusters)`, async () => {
      const mem = new MemChild();
      await formatQcow2(mem, { size: SIZE, clusterSize: cs });
      const prime = await openOnChild(mem);
      await prime.write!(0, pattern(SIZE / 2, 1), {});
      await prime.close();

      const rec = new CrashRecorder(mem);
      const img = await openOnChild(rec);
      const model = Buffer.alloc(SIZE);
      pattern(SIZE / 2, 1).copy(model);
      const taken = new Map<string, Buffer>();
      const snap = async (name: string): Promise<void> => {
        await img.createSnapshot!(name);
        taken.set(name, Buffer.from(model.subarray(0, img.length())));
      };
      const write = async (off: number, len: number, seed: number): Promise<void> => {
        const d = pattern(len, seed);
        await img.write!(off, d, {});
        d.copy(model, off);
      };
      await snap('a');
      await write(cs / 2, 3 * cs, 2);
      await img.discard!(8 * cs, 4 * cs);
      model.fill(0, 8 * cs, 12 * cs);
      await img.writeZeroes!(16 * cs, 2 * cs, { mayUnmap: false });
      model.fill(0, 16 * cs, 18 * cs);
      await snap('b');
      await write(100 * cs, 2 * cs, 3);
      await img.flush!();
      await img.deleteSnapshot!(undefined, 'a');
      await write(cs, cs, 4);
      await img.truncate!(SIZE / 4);
      await snap('c');
      await img.deleteSnapshot!('2', undefined);
      await img.close();
      expect(rec.flushCount).toBeGreaterThan(10);

      for (const { k, state } of rec.everyCrash(cs)) {
        const check = snapshotCheck(state);
        const real = check.corruptions.filter((c) => !c.startsWith('OFLAG_COPIED'));
        expect({ k, corruptions: real }).toEqual({ k, corruptions: [] });
        for (const s of check.snapshots) {
          expect({ k, name: s.name, same: readSnapshot(state, s.name).equals(taken.get(s.name)!) }).toEqual({
            k,
            name: s.name,
            same: true,
          });
        }
      }
      // and once everything is flushed, nothing is off at all
      const final = snapshotCheck(mem.contents());
      expect({ corruptions: final.corruptions, leaks: final.leaks }).toEqual({ corruptions: [], leaks: [] });
      expect(final.snapshots.map((s) => s.name)).toEqual(['c']);
    });
  }
});
