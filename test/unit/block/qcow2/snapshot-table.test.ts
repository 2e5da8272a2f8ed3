import { describe, expect, it } from 'vitest';
import {
  findSnapshot, NO_ICOUNT, nextSnapshotId, readSnapshotTable, serializeSnapshotTable, snapshotTableSize,
  type SnapshotEntry,
} from '../../../../src/block/drivers/qcow2/snapshot-table.js';
import { QmpError } from '../../../../src/qmp/error.js';
import { MemChild } from '../../../helpers/file-child.js';

function entry(id: string, name: string, more: Partial<SnapshotEntry> = {}): SnapshotEntry {
  return {
    l1Offset: 0x30000,
    l1Size: 1,
    id: Buffer.from(id),
    name: Buffer.from(name),
    dateSec: 1700000000,
    dateNsec: 123000,
    vmClockNsec: 5_000_000_001n,
    vmStateSize: 0,
    diskSize: 64 << 20,
    icount: NO_ICOUNT,
    unknownExtra: Buffer.alloc(0),
    ...more,
  };
}

/** A raw table entry as an older writer may have left it: `extra` bytes of extra data. */
function rawEntry(extra: Buffer, id: string, name: string): Buffer {
  const h = Buffer.alloc(40);
  h.writeBigUInt64BE(0x50000n, 0);
  h.writeUInt32BE(2, 8);
  h.writeUInt16BE(id.length, 12);
  h.writeUInt16BE(name.length, 14);
  h.writeUInt32BE(77, 32);
  h.writeUInt32BE(extra.length, 36);
  const body = Buffer.concat([h, extra, Buffer.from(id), Buffer.from(name)]);
  return Buffer.concat([body, Buffer.alloc((8 - (body.length % 8)) % 8)]);
}

describe('the qcow2 snapshot table', () => {
  it('reads back what it writes, each entry 8-byte aligned with 24 bytes of extra data', async () => {
    const list = [entry('1', 'first'), entry('2', 'second one', { icount: 42n, vmStateSize: 2 ** 33 })];
    const bytes = serializeSnapshotTable(list);
    expect(bytes.length).toBe(snapshotTableSize(list));
    expect(bytes.readUInt32BE(36)).toBe(24);
    // the second entry starts at the next multiple of 8 after 40 + 24 + 1 + 5 bytes
    expect(bytes.readUInt16BE(72 + 14)).toBe(10);
    // a VM state too large for the 32-bit field is written there as 0
    expect(bytes.readUInt32BE(72 + 32)).toBe(0);
    const file = new MemChild('t', Buffer.concat([Buffer.alloc(4096), bytes]));
    const back = await readSnapshotTable(file, 4096, 2, 1);
    expect(back.bytes).toBe(bytes.length);
    expect(back.entries).toEqual(list);
  });

  it('keeps extra data it does not know and fills in what older entries lack', async () => {
    const longExtra = Buffer.alloc(32, 0);
    longExtra.writeBigUInt64BE(9n, 0);
    longExtra.writeBigUInt64BE(1n << 20n, 8);
    longExtra.write('KEEPME!!', 24, 'latin1');
    const table = Buffer.concat([rawEntry(longExtra, '7', 'new'), rawEntry(Buffer.alloc(0), '8', 'old')]);
    const file = new MemChild('t', table);
    const { entries } = await readSnapshotTable(file, 0, 2, 12345 * 512);
    expect(entries[0]!.unknownExtra.toString('latin1')).toBe('KEEPME!!');
    expect(entries[0]!.vmStateSize).toBe(9);
    expect(entries[0]!.diskSize).toBe(1 << 20);
    expect(entries[0]!.icount).toBe(0n);
    // no extra data: 32-bit VM state size, the image's size, no icount
    expect(entries[1]!.vmStateSize).toBe(77);
    expect(entries[1]!.diskSize).toBe(12345 * 512);
    expect(entries[1]!.icount).toBe(NO_ICOUNT);
    const rewritten = serializeSnapshotTable(entries);
    expect(rewritten.readUInt32BE(36)).toBe(32);
    expect(rewritten.subarray(40 + 24, 40 + 32).toString('latin1')).toBe('KEEPME!!');
  });

  it("refuses more extra data than QEMU accepts, with QEMU's text", async () => {
    const file = new MemChild('t', rawEntry(Buffer.alloc(1032), '1', 'x'));
    const err = await readSnapshotTable(file, 0, 1, 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect((err as QmpError).desc).toBe('Too much extra metadata in snapshot table entry 0');
  });

  it('chooses one more than the largest numeric id, as strtoul reads ids', () => {
    expect(nextSnapshotId([])).toBe('1');
    expect(nextSnapshotId([entry('3', 'a'), entry('12abc', 'b'), entry('x', 'c')])).toBe('13');
    expect(nextSnapshotId([entry(' +4', 'a')])).toBe('5');
  });

  it('finds by id, by name, or by both only when both match', () => {
    const list = [entry('1', 'a'), entry('2', '1')];
    expect(findSnapshot(list, '1', undefined)).toBe(0);
    expect(findSnapshot(list, undefined, '1')).toBe(1);
    expect(findSnapshot(list, '1', '1')).toBe(-1);
    expect(findSnapshot(list, '2', '1')).toBe(1);
    expect(findSnapshot(list, undefined, undefined)).toBe(-1);
  });
});
