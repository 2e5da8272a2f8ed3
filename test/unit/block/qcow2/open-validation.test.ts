import { describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { QmpError } from '../../../../src/qmp/error.js';
import { MemChild } from '../../../helpers/file-child.js';
import { CRAFTED } from '../../../helpers/qcow2-crafted.js';
import { openOnChild } from '../../../helpers/qcow2.js';

async function freshImage(): Promise<Buffer> {
  const f = new MemChild();
  await formatQcow2(f, { size: 64 * 1024 * 1024 });
  return Buffer.from(f.contents());
}

describe('opening a qcow2 image', () => {
  for (const c of CRAFTED) {
    it(`refuses ${c.name} with a clear error and leaves the file untouched`, async () => {
      const bytes = c.craft(await freshImage());
      const file = new MemChild('crafted', bytes);
      const err = await openOnChild(file, null, false).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(QmpError);
      expect((err as QmpError).errorClass).toBe('GenericError');
      expect((err as QmpError).desc).toBe(c.message);
      expect(file.contents().equals(bytes)).toBe(true);
      if (c.readOnlyOpens) {
        const inst = await openOnChild(file, null, true);
        const buf = Buffer.alloc(4096, 1);
        await inst.read(0, buf);
        expect(buf.every((x) => x === 0)).toBe(true);
        await inst.close();
        expect(file.contents().equals(bytes)).toBe(true);
      }
    });
  }

  it('writes nothing when opened read/write and closed without guest writes', async () => {
    const bytes = await freshImage();
    // unknown autoclear bits are only cleared before the first write
    bytes.writeBigUInt64BE(0x24n, 88);
    const file = new MemChild('clean', bytes);
    const inst = await openOnChild(file, null, false);
    await inst.read(0, Buffer.alloc(1 << 20));
    await inst.flush!();
    await inst.close();
    expect(file.contents().equals(bytes)).toBe(true);
  });

  it('clears unknown autoclear bits before the first write', async () => {
    const bytes = await freshImage();
    bytes.writeBigUInt64BE(0x24n, 88);
    const file = new MemChild('autoclear', bytes);
    const inst = await openOnChild(file, null, false);
    await inst.write!(0, Buffer.alloc(512, 7), {});
    expect(file.contents().readBigUInt64BE(88)).toBe(0n);
    await inst.close();
  });
});
