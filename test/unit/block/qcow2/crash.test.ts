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
      for (const { k, state } of rec.everyCrash(cs)) {
        expect({ k, corruptions: miniCheck(state).corruptions }).toEqual({ k, corruptions: [] });
      }
    });
  }
});
