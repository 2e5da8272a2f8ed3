/**
 * Crash safety: whatever subset of the writes issued since the last flush
 * reaches the disk, the qcow2 metadata stays free of corruptions (leaked
 * clusters are allowed: they waste space but lose no data).
 */
import { describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { CrashRecorder } from '../../../helpers/crash-recorder.js';
import { MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';
import { miniCheck } from '../../../helpers/qcow2-check.js';
import { crashWorkload } from '../../../helpers/crash-workload.js';

describe('qcow2 after a simulated crash', () => {
  for (const cs of [512, 4096, 65536]) {
    it(`has no corruption at any crash point, for any subset of unflushed writes (${cs}-byte clusters)`, async () => {
      const mem = new MemChild();
      await formatQcow2(mem, { size: 4 * 1024 * 1024, clusterSize: cs });
      const rec = new CrashRecorder(mem);
      const inst = await openOnChild(rec);
      await crashWorkload(inst, cs);
      await inst.close();
      expect(rec.flushCount).toBeGreaterThan(10);
      let seed = cs;
      const rnd = (): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) | 0;
        return (seed >>> 16) / 65536;
      };
      for (let k = 0; k <= rec.flushCount; k++) {
        const variants: ((i: number) => boolean)[] = [() => false, () => true, () => rnd() < 0.5, () => rnd() < 0.5];
        for (const keep of variants) {
          const state = rec.crashState(k, keep);
          expect({ k, corruptions: miniCheck(state).corruptions }).toEqual({ k, corruptions: [] });
        }
      }
    });
  }
});
