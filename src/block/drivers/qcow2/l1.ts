/**
 * The active L1 table, kept whole in memory (at most 32 MiB). Changed entries
 * are written back by 512-byte sector, after the L2 tables they point to
 * (writeback.ts).
 */
import type { ChildIo } from '../driver.js';
import { L1_HI_RESERVED, L1_LO_RESERVED, META_SECTOR } from './constants.js';
import { entryCopied, entryOffset, setEntry } from './entries.js';
import { qcow2Errors as E } from './errors.js';

export class L1Table {
  readonly dirtySectors = new Set<number>();

  constructor(
    private readonly file: ChildIo,
    public buf: Buffer,
    public size: number,
    public offset: number,
  ) {}

  l2Offset(i: number): number {
    return i < this.size ? entryOffset(this.buf, i * 8) : 0;
  }

  copied(i: number): boolean {
    return entryCopied(this.buf, i * 8);
  }

  set(i: number, l2Offset: number): void {
    setEntry(this.buf, i * 8, l2Offset, true);
    this.dirtySectors.add(Math.floor((i * 8) / META_SECTOR));
  }

  /** Sets entry `i` with an explicit COPIED flag (0 removes the L2 table). */
  put(i: number, l2Offset: number, copied: boolean): void {
    setEntry(this.buf, i * 8, l2Offset, copied);
    this.dirtySectors.add(Math.floor((i * 8) / META_SECTOR));
  }

  /**
   * Checks every entry at open: reserved bits, alignment, and that each L2
   * table lies inside the file and clear of the header.
   */
  validate(clusterSize: number, fileLength: number): void {
    for (let i = 0; i < this.size; i++) {
      const hi = this.buf.readUInt32BE(i * 8);
      const lo = this.buf.readUInt32BE(i * 8 + 4);
      if ((hi & L1_HI_RESERVED) !== 0 || (lo & L1_LO_RESERVED) !== 0) {
        const raw = this.buf.readBigUInt64BE(i * 8).toString(16);
        throw E.corrupt(`Reserved bits set in L1 entry ${i}: 0x${raw}`);
      }
      const off = entryOffset(this.buf, i * 8);
      if (off === 0) continue;
      if (off % clusterSize !== 0) throw E.l2Unaligned(off, i);
      if (off < clusterSize) throw E.corrupt(`L2 table of L1 entry ${i} overlaps the qcow2 header`);
      if (off >= fileLength) {
        throw E.corrupt(`L2 table offset 0x${off.toString(16)} of L1 entry ${i} is past the end of the file`);
      }
    }
  }

  async writeDirty(): Promise<void> {
    const sectors = [...this.dirtySectors].sort((a, b) => a - b);
    this.dirtySectors.clear();
    const bytes = this.size * 8;
    try {
      await Promise.all(
        sectors.map((s) => {
          const start = s * META_SECTOR;
          const end = Math.min(start + META_SECTOR, bytes);
          return this.file.write(this.offset + start, Buffer.from(this.buf.subarray(start, end)));
        }),
      );
    } catch (err) {
      for (const s of sectors) this.dirtySectors.add(s);
      throw err;
    }
  }
}
