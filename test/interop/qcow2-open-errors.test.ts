/**
 * qmpd refuses broken or unsupported qcow2 files with QEMU 7.2's own message
 * where QEMU refuses them too, and never changes a byte of a file it refuses.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../src/block/drivers/qcow2/create.js';
import { QmpError } from '../../src/qmp/error.js';
import { MemChild } from '../helpers/file-child.js';
import { CRAFTED } from '../helpers/qcow2-crafted.js';
import { openQcow2, sha256 } from '../helpers/qcow2.js';
import { tempDir, tool } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

describe.skipIf(skipWithout('qemu-io'))('opening broken qcow2 files', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  CRAFTED.forEach((c, i) => {
    const how = c.qemuSame ? "with QEMU's message" : 'although QEMU opens it';
    it(`refuses ${c.name} ${how}, leaving the file unchanged`, async () => {
      const mem = new MemChild();
      await formatQcow2(mem, { size: 64 * 1024 * 1024 });
      const path = tmp.path(`crafted-${i}.qcow2`);
      writeFileSync(path, c.craft(Buffer.from(mem.contents())));
      const before = sha256(path);
      const err = await openQcow2(path).then(
        async (o) => {
          await o.close();
          return null;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(QmpError);
      expect((err as QmpError).desc).toBe(c.message);
      expect(sha256(path)).toBe(before);
      if (c.qemuSame) {
        const r = tool('qemu-io', ['-f', 'qcow2', '-c', 'read 0 512', path]);
        expect(r.stderr.trim()).toBe(`qemu-io: can't open device ${path}: ${c.message}`);
      }
    });
  });
});
