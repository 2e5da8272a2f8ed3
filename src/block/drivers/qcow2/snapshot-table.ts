/**
 * The internal snapshot table (qcow2 spec "Snapshots"): entries of a 40-byte
 * fixed part, extra data, the id and the name, each entry 8-byte aligned.
 * QEMU 7.2 writes 24 bytes of extra data (64-bit VM state size, virtual disk
 * size, icount) and keeps extra data it does not know. Parsing reads through
 * a window so a table of thousands of entries costs a few reads.
 */
import type { ChildIo } from '../driver.js';
import { qcow2Errors as E } from './errors.js';

/** QEMU's QCOW_MAX_SNAPSHOT_EXTRA_DATA and QCOW_MAX_SNAPSHOTS_SIZE (1024 * QCOW_MAX_SNAPSHOTS). */
const MAX_EXTRA_DATA = 1024;
const MAX_TABLE_BYTES = 1024 * 65536;
export const ENTRY_FIXED = 40;
/** Extra data QEMU 7.2 knows and writes: vm_state_size_large, disk_size, icount. */
export const KNOWN_EXTRA = 24;
/** icount of a snapshot taken without record/replay (all ones). */
export const NO_ICOUNT = 0xffff_ffff_ffff_ffffn;
/** Bytes fetched per read while parsing. */
const WINDOW = 64 * 1024;

export interface SnapshotEntry {
  l1Offset: number;
  l1Size: number;
  /** id and name as stored (QEMU compares bytes) */
  id: Buffer;
  name: Buffer;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: bigint;
  vmStateSize: number;
  /** virtual disk size when the snapshot was taken */
  diskSize: number;
  icount: bigint;
  /** extra data bytes past the known 24, written back unchanged */
  unknownExtra: Buffer;
}

class WindowReader {
  private start = 0;
  private buf = Buffer.alloc(0);

  constructor(private readonly file: ChildIo) {}

  async get(offset: number, length: number): Promise<Buffer> {
    if (offset < this.start || offset + length > this.start + this.buf.length) {
      this.start = offset;
      this.buf = Buffer.alloc(Math.max(WINDOW, length));
      await this.file.read(offset, this.buf);
    }
    return this.buf.subarray(offset - this.start, offset - this.start + length);
  }
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/**
 * Reads `count` entries at `offset` with QEMU's checks, and the bytes they
 * span; `imageSize` stands in for a missing disk size.
 */
export async function readSnapshotTable(
  file: ChildIo,
  offset: number,
  count: number,
  imageSize: number,
): Promise<{ entries: SnapshotEntry[]; bytes: number }> {
  const r = new WindowReader(file);
  const out: SnapshotEntry[] = [];
  let pos = offset;
  for (let i = 0; i < count; i++) {
    pos = offset + align8(pos - offset);
    const h = await r.get(pos, ENTRY_FIXED);
    const idSize = h.readUInt16BE(12);
    const nameSize = h.readUInt16BE(14);
    const extraSize = h.readUInt32BE(36);
    if (extraSize > MAX_EXTRA_DATA) throw E.snapshotExtraData(i);
    const fixed = {
      l1Offset: Number(h.readBigUInt64BE(0)),
      l1Size: h.readUInt32BE(8),
      dateSec: h.readUInt32BE(16),
      dateNsec: h.readUInt32BE(20),
      vmClockNsec: h.readBigUInt64BE(24),
      vmStateSize: h.readUInt32BE(32),
    };
    pos += ENTRY_FIXED;
    const extra = Buffer.alloc(Math.max(KNOWN_EXTRA, extraSize));
    (await r.get(pos, extraSize)).copy(extra);
    pos += extraSize;
    const id = Buffer.from(await r.get(pos, idSize));
    pos += idSize;
    const name = Buffer.from(await r.get(pos, nameSize));
    pos += nameSize;
    if (pos - offset > MAX_TABLE_BYTES) throw E.snapshotTableTooBig();
    out.push({
      ...fixed,
      id,
      name,
      vmStateSize: extraSize >= 8 ? Number(extra.readBigUInt64BE(0)) : fixed.vmStateSize,
      diskSize: extraSize >= 16 ? Number(extra.readBigUInt64BE(8)) : imageSize,
      icount: extraSize >= 24 ? extra.readBigUInt64BE(16) : NO_ICOUNT,
      unknownExtra: Buffer.from(extra.subarray(KNOWN_EXTRA, Math.max(KNOWN_EXTRA, extraSize))),
    });
  }
  return { entries: out, bytes: pos - offset };
}

/** Bytes the table takes when written (QEMU's qcow2_write_snapshots layout). */
export function snapshotTableSize(entries: readonly SnapshotEntry[]): number {
  let size = 0;
  for (const e of entries) {
    size = align8(size) + ENTRY_FIXED + KNOWN_EXTRA + e.unknownExtra.length + e.id.length + e.name.length;
  }
  return size;
}

export function serializeSnapshotTable(entries: readonly SnapshotEntry[]): Buffer {
  const size = snapshotTableSize(entries);
  if (size > MAX_TABLE_BYTES) throw E.fileTooLarge();
  const buf = Buffer.alloc(size);
  let pos = 0;
  for (const e of entries) {
    pos = align8(pos);
    buf.writeBigUInt64BE(BigInt(e.l1Offset), pos);
    buf.writeUInt32BE(e.l1Size, pos + 8);
    buf.writeUInt16BE(e.id.length, pos + 12);
    buf.writeUInt16BE(e.name.length, pos + 14);
    buf.writeUInt32BE(e.dateSec, pos + 16);
    buf.writeUInt32BE(e.dateNsec, pos + 20);
    buf.writeBigUInt64BE(e.vmClockNsec, pos + 24);
    // a VM state too large for 32 bits reads as "disk-only" to older readers, as QEMU writes it
    buf.writeUInt32BE(e.vmStateSize <= 0xffffffff ? e.vmStateSize : 0, pos + 32);
    buf.writeUInt32BE(KNOWN_EXTRA + e.unknownExtra.length, pos + 36);
    pos += ENTRY_FIXED;
    buf.writeBigUInt64BE(BigInt(e.vmStateSize), pos);
    buf.writeBigUInt64BE(BigInt(e.diskSize), pos + 8);
    buf.writeBigUInt64BE(e.icount, pos + 16);
    pos += KNOWN_EXTRA;
    e.unknownExtra.copy(buf, pos);
    pos += e.unknownExtra.length;
    e.id.copy(buf, pos);
    pos += e.id.length;
    e.name.copy(buf, pos);
    pos += e.name.length;
  }
  return buf;
}

/** QEMU's find_snapshot_by_id_and_name: both must match when both are given. */
export function findSnapshot(entries: readonly SnapshotEntry[], id: string | undefined, name: string | undefined): number {
  const idBytes = id === undefined ? undefined : Buffer.from(id, 'utf8');
  const nameBytes = name === undefined ? undefined : Buffer.from(name, 'utf8');
  if (idBytes === undefined && nameBytes === undefined) return -1;
  return entries.findIndex(
    (e) => (idBytes === undefined || e.id.equals(idBytes)) && (nameBytes === undefined || e.name.equals(nameBytes)),
  );
}

/** strtoul() of an id as QEMU reads it: leading digits, 0 if there are none. */
function idNumber(id: Buffer): bigint {
  const s = id.toString('latin1').replace(/^[\t\n\v\f\r ]+\+?/, '');
  let n = 0n;
  for (const ch of s) {
    if (ch < '0' || ch > '9') break;
    n = n * 10n + BigInt(ch.charCodeAt(0) - 48);
  }
  return n;
}

/** QEMU's find_new_snapshot_id: one more than the largest numeric id. */
export function nextSnapshotId(entries: readonly SnapshotEntry[]): string {
  let max = 0n;
  for (const e of entries) {
    const n = idNumber(e.id);
    if (n > max) max = n;
  }
  return (max + 1n).toString();
}
