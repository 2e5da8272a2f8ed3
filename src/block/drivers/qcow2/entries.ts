/**
 * Decoding and encoding of L1/L2 entries (docs/qcow2-format.md §5). Entries are
 * handled as two 32-bit halves: JS numbers hold any cluster-aligned offset
 * below 2^56 exactly, and avoiding BigInt keeps the lookup loops cheap.
 */
import {
  COMPRESSED_SECTOR, HI_COMPRESSED, HI_COPIED, HI_OFFSET, LO_OFFSET, LO_ZERO,
} from './constants.js';

export const enum Kind {
  /** no entry: read through to the backing file */
  Unallocated = 0,
  /** zero flag without a host cluster */
  ZeroPlain = 1,
  /** zero flag with a (kept) host cluster */
  ZeroAlloc = 2,
  Normal = 3,
  Compressed = 4,
}

const TWO32 = 0x1_0000_0000;

export function entryOffset(buf: Buffer, pos: number): number {
  return (buf.readUInt32BE(pos) & HI_OFFSET) * TWO32 + ((buf.readUInt32BE(pos + 4) & LO_OFFSET) >>> 0);
}

export function entryCopied(buf: Buffer, pos: number): boolean {
  return (buf.readUInt32BE(pos) & HI_COPIED) !== 0;
}

/** Classifies a standard L2 entry; `zeroFlag` is false for v2 images (bit 0 means nothing there). */
export function classify(buf: Buffer, pos: number, zeroFlag: boolean): Kind {
  const hi = buf.readUInt32BE(pos);
  const lo = buf.readUInt32BE(pos + 4);
  if ((hi & HI_COMPRESSED) !== 0) return Kind.Compressed;
  const hasOffset = (hi & HI_OFFSET) !== 0 || (lo & LO_OFFSET) !== 0;
  if (zeroFlag && (lo & LO_ZERO) !== 0) return hasOffset ? Kind.ZeroAlloc : Kind.ZeroPlain;
  return hasOffset ? Kind.Normal : Kind.Unallocated;
}

/** Writes `offset | flags` at `pos`. */
export function setEntry(buf: Buffer, pos: number, offset: number, copied: boolean, zero = false): void {
  const hi = Math.floor(offset / TWO32);
  const lo = offset - hi * TWO32;
  buf.writeUInt32BE(((hi & HI_OFFSET) | (copied ? HI_COPIED : 0)) >>> 0, pos);
  buf.writeUInt32BE(((lo & LO_OFFSET) | (zero ? LO_ZERO : 0)) >>> 0, pos + 4);
}

export interface CompressedRange {
  /** host byte offset of the compressed stream (not aligned) */
  offset: number;
  /** bytes that may belong to the stream: whole 512-byte sectors from the start sector */
  length: number;
}

/** Descriptor of a compressed entry: offset in the low `62 - (cluster_bits - 8)` bits, extra sectors above. */
export function compressedRange(buf: Buffer, pos: number, clusterBits: number): CompressedRange {
  const offsetBits = 62 - (clusterBits - 8);
  const desc = buf.readBigUInt64BE(pos) & ((1n << 62n) - 1n);
  const offset = Number(desc & ((1n << BigInt(offsetBits)) - 1n));
  const sectors = Number(desc >> BigInt(offsetBits)) + 1;
  return { offset, length: sectors * COMPRESSED_SECTOR - (offset % COMPRESSED_SECTOR) };
}
