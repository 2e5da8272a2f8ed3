import { describe, expect, it } from 'vitest';
import { Refcounts } from '../../../../src/block/drivers/qcow2/refcount.js';
import { MemChild } from '../../../helpers/file-child.js';

describe('refcount entries', () => {
  for (let order = 0; order <= 6; order++) {
    const bits = 2 ** order;
    it(`pack ${bits}-bit refcounts without disturbing their neighbours`, () => {
      const refs = new Refcounts(new MemChild(), 512, order, Buffer.alloc(512), 512, 1);
      expect(refs.perBlock).toBe((512 * 8) / bits);
      const block = Buffer.alloc(512);
      const max = Math.min(refs.max, 2 ** 40);
      const values = Array.from({ length: refs.perBlock }, (_, i) => (i * 2654435761) % (max + 1));
      values.forEach((v, i) => refs.write(block, i, v));
      values.forEach((v, i) => expect(refs.read(block, i)).toBe(v));
      refs.write(block, 3, 0);
      expect(refs.read(block, 2)).toBe(values[2]);
      expect(refs.read(block, 4)).toBe(values[4]);
    });
  }

  it('stores 1-bit refcounts least significant bit first', () => {
    const refs = new Refcounts(new MemChild(), 512, 0, Buffer.alloc(512), 512, 1);
    const block = Buffer.alloc(512);
    refs.write(block, 0, 1);
    refs.write(block, 9, 1);
    expect([block[0], block[1]]).toEqual([0x01, 0x02]);
  });
});
