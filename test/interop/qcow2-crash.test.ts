/**
 * Crash states of images written by qmpd (see test/helpers/crash-recorder.ts)
 * as `qemu-img check` sees them: leaks at most, never corruptions.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../src/block/drivers/qcow2/create.js';
import { CrashRecorder } from '../helpers/crash-recorder.js';
import { crashWorkload } from '../helpers/crash-workload.js';
import { MemChild } from '../helpers/file-child.js';
import { openOnChild } from '../helpers/qcow2.js';
import { qemuImgCheck, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

describe.skipIf(skipWithout('qemu-img'))('qcow2 crash states checked by qemu-img', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('show no corruption at sampled crash points (512-byte and 64 KiB clusters)', async () => {
    for (const cs of [512, 65536]) {
      const mem = new MemChild();
      await formatQcow2(mem, { size: 4 * 1024 * 1024, clusterSize: cs });
      const rec = new CrashRecorder(mem);
      const inst = await openOnChild(rec);
      await crashWorkload(inst, cs);
      await inst.close();
      const step = Math.max(1, Math.floor(rec.flushCount / 12));
      for (let k = 0; k <= rec.flushCount; k += step) {
        let n = k;
        const path = tmp.path(`crash-${cs}-${k}.qcow2`);
        writeFileSync(path, rec.crashState(k, () => (n = (n * 7 + 3) % 11) < 5));
        const c = qemuImgCheck(path);
        expect({ cs, k, corruptions: c.corruptions, checkErrors: c.checkErrors }).toEqual({ cs, k, corruptions: 0, checkErrors: 0 });
        expect([0, 3]).toContain(c.status);
      }
    }
  });
});
