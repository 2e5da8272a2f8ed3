/**
 * In-memory dirty bitmaps: one bit per `granularity` bytes of a node, set by
 * every write while the bitmap is recording. The bit layout (LSB first,
 * 64-bit little-endian words) is QEMU's hbitmap's last level, so checksums
 * and qcow2 storage match QEMU's.
 */
import { createHash } from 'node:crypto';

export const MIN_GRANULARITY = 512;
export const MAX_GRANULARITY = 2 ** 31;
export const MAX_BITMAP_NAME = 1023;

export class DirtyBitmap {
  recording: boolean;
  persistent: boolean;
  /** in use by an operation (a transaction's remove, an export) */
  busy = false;
  inconsistent = false;
  /** not stored at close: a transaction took it out of the image and may still drop it (QEMU's skip_store) */
  skipStore = false;
  /** the image holds it (loaded from it, or stored since) */
  inImage = false;
  /**
   * QEMU's readonly: set when loaded from a read-only image or stored as its
   * node went read-only, cleared when the node goes read-write again and the
   * image holds it; such a bitmap cannot be modified (clear, remove, merge into).
   */
  readOnly = false;
  private bits: Uint8Array;
  private setBits = 0;

  constructor(
    readonly name: string,
    readonly granularity: number,
    private size: number,
    opts: { recording: boolean; persistent: boolean },
  ) {
    this.recording = opts.recording;
    this.persistent = opts.persistent;
    this.bits = new Uint8Array(DirtyBitmap.byteLength(size, granularity));
  }

  /** Bytes of the bit array, padded to whole 64-bit words. */
  static byteLength(size: number, granularity: number): number {
    return Math.ceil(Math.ceil(size / granularity) / 64) * 8;
  }

  /** Bytes of the node the bitmap covers. */
  get coveredSize(): number {
    return this.size;
  }

  get bitCount(): number {
    return Math.ceil(this.size / this.granularity);
  }

  /** Dirty bytes, as QEMU counts them (set bits × granularity). */
  count(): number {
    return this.setBits * this.granularity;
  }

  /** Marks [offset, offset+length) dirty. */
  setRange(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(offset / this.granularity);
    const last = Math.min(Math.floor((offset + length - 1) / this.granularity), this.bitCount - 1);
    for (let bit = first; bit <= last; bit++) {
      const byte = bit >>> 3;
      const mask = 1 << (bit & 7);
      if ((this.bits[byte]! & mask) === 0) {
        this.bits[byte]! |= mask;
        this.setBits++;
      }
    }
  }

  isDirty(offset: number): boolean {
    const bit = Math.floor(offset / this.granularity);
    return (this.bits[bit >>> 3]! & (1 << (bit & 7))) !== 0;
  }

  /** Length of the run from `offset` with the same dirty state (at most `length`). */
  runLength(offset: number, length: number): { length: number; dirty: boolean } {
    const dirty = this.isDirty(offset);
    const end = Math.min(offset + length, this.size);
    let pos = (Math.floor(offset / this.granularity) + 1) * this.granularity;
    while (pos < end && this.isDirty(pos) === dirty) pos += this.granularity;
    return { length: Math.min(pos, end) - offset, dirty };
  }

  clear(): void {
    this.bits.fill(0);
    this.setBits = 0;
  }

  /** OR the bits of `other` (same granularity and size) into this bitmap. */
  merge(other: DirtyBitmap): void {
    if (other.granularity === this.granularity) {
      const n = Math.min(this.bits.length, other.bits.length);
      for (let i = 0; i < n; i++) this.bits[i]! |= other.bits[i]!;
      this.recount();
      return;
    }
    for (let bit = 0; bit < other.bitCount; bit++) {
      const byte = bit >>> 3;
      if (other.bits[byte]! & (1 << (bit & 7))) this.setRange(bit * other.granularity, other.granularity);
    }
  }

  snapshotBits(): Uint8Array {
    return this.bits.slice();
  }

  restoreBits(bits: Uint8Array): void {
    this.bits.set(bits.subarray(0, this.bits.length));
    this.recount();
  }

  /** The node was resized: keep the bits that still apply. */
  resize(size: number): void {
    const bits = new Uint8Array(DirtyBitmap.byteLength(size, this.granularity));
    bits.set(this.bits.subarray(0, Math.min(bits.length, this.bits.length)));
    this.size = size;
    this.bits = bits;
    this.recount();
  }

  /** x-debug-block-dirty-bitmap-sha256: SHA-256 of the bit array. */
  sha256(): string {
    return createHash('sha256').update(this.bits).digest('hex');
  }

  private recount(): void {
    let n = 0;
    const total = this.bitCount;
    for (let bit = 0; bit < total; bit++) if (this.bits[bit >>> 3]! & (1 << (bit & 7))) n++;
    this.setBits = n;
  }
}
