import { describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { Kind } from '../../../../src/block/drivers/qcow2/entries.js';
import {
  bitmapInvalid, cowBounds, ctz32, markWritten, rangeMask, runLength, subclusterKind,
} from '../../../../src/block/drivers/qcow2/subclusters.js';
import { QmpError } from '../../../../src/qmp/error.js';
import { MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';

const CS = 65536;
const SCS = CS / 32;

describe('subcluster bitmaps', () => {
  it('builds masks of bit ranges, including all 32 bits', () => {
    expect(rangeMask(0, 0)).toBe(0);
    expect(rangeMask(0, 1)).toBe(1);
    expect(rangeMask(1, 4)).toBe(0b1110);
    expect(rangeMask(0, 32)).toBe(0xffffffff);
    expect(rangeMask(31, 32)).toBe(0x80000000);
    expect(rangeMask(5, 3)).toBe(0);
    expect(ctz32(0)).toBe(32);
    expect(ctz32(0x80000000)).toBe(31);
    expect(ctz32(0b1000)).toBe(3);
  });

  it('refuses what QEMU calls an invalid entry', () => {
    // allocated and zero at once
    expect(bitmapInvalid(Kind.Normal, { alloc: 0b10, zero: 0b110 })).toBe(true);
    expect(bitmapInvalid(Kind.Normal, { alloc: 0b01, zero: 0b110 })).toBe(false);
    // allocated subclusters without a host cluster
    expect(bitmapInvalid(Kind.Unallocated, { alloc: 1, zero: 0 })).toBe(true);
    expect(bitmapInvalid(Kind.Unallocated, { alloc: 0, zero: 0xffffffff })).toBe(false);
    // compressed clusters carry no bitmap semantics
    expect(bitmapInvalid(Kind.Compressed, { alloc: 0xffffffff, zero: 0xffffffff })).toBe(false);
  });

  it('tells each subcluster apart: data, zero with or without a host cluster, or the backing file', () => {
    const b = { alloc: 0b0011, zero: 0b0100 };
    expect(subclusterKind(Kind.Normal, b, 0)).toBe(Kind.Normal);
    expect(subclusterKind(Kind.Normal, b, 2)).toBe(Kind.ZeroAlloc);
    expect(subclusterKind(Kind.Normal, b, 3)).toBe(Kind.Unallocated);
    expect(subclusterKind(Kind.Unallocated, { alloc: 0, zero: 1 }, 0)).toBe(Kind.ZeroPlain);
    expect(subclusterKind(Kind.Unallocated, { alloc: 0, zero: 1 }, 1)).toBe(Kind.Unallocated);
    expect(subclusterKind(Kind.Compressed, { alloc: 0, zero: 0 }, 7)).toBe(Kind.Compressed);
    expect(runLength(Kind.Normal, b, 0)).toBe(2);
    expect(runLength(Kind.Normal, b, 3)).toBe(29);
    expect(runLength(Kind.Normal, { alloc: 0xffffffff, zero: 0 }, 31)).toBe(1);
  });

  it('copies on write only the partial subclusters of a new cluster', () => {
    const none = { alloc: 0, zero: 0 };
    expect(cowBounds(Kind.Unallocated, none, false, 1000, 1100, CS)).toEqual({ from: 0, to: SCS });
    expect(cowBounds(Kind.Unallocated, none, false, SCS, 3 * SCS, CS)).toEqual({ from: SCS, to: 3 * SCS });
    expect(cowBounds(Kind.Unallocated, none, false, SCS + 1, 3 * SCS - 1, CS)).toEqual({ from: SCS, to: 3 * SCS });
  });

  it('copies a shared cluster from its first to its last allocated subcluster', () => {
    const b = { alloc: rangeMask(3, 4) | rangeMask(20, 21), zero: rangeMask(10, 12) };
    expect(cowBounds(Kind.Normal, b, false, 8 * SCS + 5, 8 * SCS + 9, CS)).toEqual({ from: 3 * SCS, to: 21 * SCS });
    expect(cowBounds(Kind.Normal, b, false, 0, 10, CS)).toEqual({ from: 0, to: 21 * SCS });
    expect(cowBounds(Kind.Normal, b, false, 30 * SCS, 31 * SCS + 1, CS)).toEqual({ from: 3 * SCS, to: 32 * SCS });
    expect(cowBounds(Kind.Compressed, b, false, 100, 200, CS)).toEqual({ from: 0, to: CS });
  });

  it('completes only unallocated or zero subclusters of a cluster kept in place', () => {
    const b = { alloc: 0b0001, zero: 0b0100 };
    // first subcluster allocated: no copy before the data; last one unallocated: completed
    expect(cowBounds(Kind.Normal, b, true, 100, 3 * SCS + 7, CS)).toEqual({ from: 100, to: 4 * SCS });
    // starting in a zero subcluster: completed from its start
    expect(cowBounds(Kind.Normal, b, true, 2 * SCS + 7, 2 * SCS + 9, CS)).toEqual({ from: 2 * SCS, to: 3 * SCS });
  });

  it('marks written subclusters allocated and clears their zero bits, keeping the others', () => {
    const b = markWritten({ alloc: 0b1, zero: 0xfffffff0 }, SCS + 1, 5 * SCS, CS);
    expect(b).toEqual({ alloc: 0b11111, zero: 0xffffffe0 });
  });
});

describe('images with extended L2 entries', () => {
  async function image(size = 1024 * 1024): Promise<MemChild> {
    const f = new MemChild();
    await formatQcow2(f, { size, extendedL2: true });
    return f;
  }

  it('reports extended-l2 in its image info', async () => {
    const inst = await openOnChild(await image());
    expect(inst.imageInfo!()!.formatSpecific).toMatchObject({ type: 'qcow2', data: { 'extended-l2': true } });
    await inst.close();
  });

  it('reads a small write back and leaves the rest of the cluster unallocated', async () => {
    const f = await image();
    const inst = await openOnChild(f);
    await inst.write!(SCS + 10, Buffer.alloc(20, 7), {});
    const back = Buffer.alloc(CS, 1);
    await inst.read(0, back);
    expect(back.subarray(SCS + 10, SCS + 30).every((x) => x === 7)).toBe(true);
    expect(back.filter((x) => x !== 0).length).toBe(20);
    const s = await inst.blockStatus!(0, CS);
    expect(s).toEqual({ length: SCS, status: 'unallocated' });
    expect(await inst.blockStatus!(SCS, CS - SCS)).toEqual({ length: SCS, status: 'data' });
    await inst.writeZeroes!(4 * SCS, 2 * SCS, {});
    expect(await inst.blockStatus!(4 * SCS, CS)).toEqual({ length: 2 * SCS, status: 'zero' });
    await inst.close();
  });

  async function corruptBitmap(zero: number, alloc: number, withHost: boolean): Promise<MemChild> {
    const f = await image();
    const inst = await openOnChild(f);
    await inst.write!(0, Buffer.alloc(512, 1), {});
    await inst.close();
    const bytes = f.contents();
    const l1 = Number(bytes.readBigUInt64BE(40));
    const l2 = Number(bytes.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
    if (!withHost) bytes.writeBigUInt64BE(0n, l2);
    bytes.writeUInt32BE(zero, l2 + 8);
    bytes.writeUInt32BE(alloc, l2 + 12);
    return new MemChild('corrupt', bytes);
  }

  it('refuses a subcluster both allocated and zero on read, with QEMU\'s text, and marks the image corrupt', async () => {
    const f = await corruptBitmap(1, 1, true);
    const inst = await openOnChild(f);
    const err = await inst.read(0, Buffer.alloc(512)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect((err as QmpError).desc).toBe('qcow2: Image is corrupt: Invalid cluster entry found  (L2 offset: 0x40000, L2 index: 0)');
    expect(f.contents().readBigUInt64BE(72) & 0x2n).toBe(0x2n);
    await inst.close().catch(() => undefined);
  });

  it('refuses allocated subclusters without a host cluster on write, with QEMU\'s text', async () => {
    const f = await corruptBitmap(0, 4, false);
    const inst = await openOnChild(f);
    const err = await inst.write!(0, Buffer.alloc(512), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect((err as QmpError).desc).toBe('qcow2: Image is corrupt: Invalid cluster entry found (L2 offset: 0x40000, L2 index: 0)');
    await inst.close().catch(() => undefined);
  });
});

describe('writes into a fully allocated cluster with extended L2 entries', () => {
  it('go in place, without a new host cluster or any copy', async () => {
    const f = new MemChild();
    await formatQcow2(f, { size: 1024 * 1024, extendedL2: true });
    const inst = await openOnChild(f);
    await inst.write!(0, Buffer.alloc(CS, 1), {});
    await inst.flush!();
    const length = f.contents().length;
    const { planSubclusters } = await import('../../../../src/block/drivers/qcow2/subcluster-plan.js');
    const img = (inst as unknown as { img: Parameters<typeof planSubclusters>[0] }).img;
    const plan = await planSubclusters(img, 0, CS);
    expect(plan.allocs).toEqual([]);
    expect(plan.inPlace).toEqual([{ guest: 0, length: CS, kind: Kind.Normal, host: length - CS, copied: true }]);
    await inst.close();
  });
});
