/**
 * Refcount structures (docs/qcow2-format.md §6): the refcount table, kept
 * whole in memory, and refcount blocks, kept in a write-back cache. Entry
 * widths of 1 to 64 bits are supported; 1-4 bit entries are packed least
 * significant bits first.
 */
import type { ChildIo } from '../driver.js';
import { META_SECTOR, REFBLOCK_CACHE_BYTES, REFBLOCK_CACHE_MIN_BLOCKS } from './constants.js';
import { entryOffset } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import { MetaCache } from './meta-cache.js';

const TWO32 = 0x1_0000_0000;

export class Refcounts {
  /** The refcount table, `tableClusters` clusters of big-endian u64 entries. */
  table: Buffer;
  tableOffset: number;
  tableClusters: number;
  /** 512-byte sectors of the table changed in memory and not yet written. */
  readonly dirtySectors = new Set<number>();
  readonly blocks: MetaCache;
  readonly bits: number;
  /** Refcount entries per refcount block. */
  readonly perBlock: number;
  readonly max: number;

  constructor(
    private readonly file: ChildIo,
    readonly clusterSize: number,
    readonly order: number,
    table: Buffer,
    tableOffset: number,
    tableClusters: number,
  ) {
    this.table = table;
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    this.bits = 2 ** order;
    this.perBlock = (clusterSize * 8) / this.bits;
    this.max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    const capacity = Math.max(REFBLOCK_CACHE_MIN_BLOCKS, Math.floor(REFBLOCK_CACHE_BYTES / clusterSize));
    this.blocks = new MetaCache(capacity, clusterSize, (off, buf) => file.read(off, buf));
  }

  /** Number of refcount table entries. */
  get tableEntries(): number {
    return (this.tableClusters * this.clusterSize) / 8;
  }

  /** Host offset of refcount block `index`, 0 if there is none. */
  blockOffset(index: number): number {
    return index < this.tableEntries ? entryOffset(this.table, index * 8) : 0;
  }

  setBlockOffset(index: number, offset: number): void {
    const hi = Math.floor(offset / TWO32);
    this.table.writeUInt32BE(hi, index * 8);
    this.table.writeUInt32BE(offset - hi * TWO32, index * 8 + 4);
    this.dirtySectors.add(Math.floor((index * 8) / META_SECTOR));
  }

  /** Cluster `c`'s refcount (0 where no refcount block covers it). */
  async get(c: number): Promise<number> {
    const off = this.blockOffset(Math.floor(c / this.perBlock));
    if (off === 0) return 0;
    const b = this.blocks.peek(off) ?? (await this.blocks.get(off));
    return this.read(b, c % this.perBlock);
  }

  /** Adds `delta` to cluster `c`'s refcount; its refcount block must exist. */
  async adjust(c: number, delta: number): Promise<number> {
    const index = Math.floor(c / this.perBlock);
    const off = this.blockOffset(index);
    if (off === 0) throw E.corrupt(`no refcount block for cluster ${c}`);
    const b = await this.blocks.getForUpdate(off);
    const i = c % this.perBlock;
    const v = this.read(b, i) + delta;
    if (v < 0) throw E.corrupt(`refcount of cluster ${c} would become negative`);
    if (v > this.max) throw E.refcountOverflow(c);
    this.write(b, i, v);
    return v;
  }

  read(block: Buffer, i: number): number {
    switch (this.bits) {
      case 16:
        return block.readUInt16BE(i * 2);
      case 8:
        return block[i]!;
      case 32:
        return block.readUInt32BE(i * 4);
      case 64:
        return block.readUInt32BE(i * 8) * TWO32 + block.readUInt32BE(i * 8 + 4);
      default: {
        const bit = i * this.bits;
        return (block[bit >> 3]! >> (bit & 7)) & (2 ** this.bits - 1);
      }
    }
  }

  write(block: Buffer, i: number, v: number): void {
    switch (this.bits) {
      case 16:
        block.writeUInt16BE(v, i * 2);
        return;
      case 8:
        block[i] = v;
        return;
      case 32:
        block.writeUInt32BE(v, i * 4);
        return;
      case 64: {
        const hi = Math.floor(v / TWO32);
        block.writeUInt32BE(hi, i * 8);
        block.writeUInt32BE(v - hi * TWO32, i * 8 + 4);
        return;
      }
      default: {
        const bit = i * this.bits;
        const mask = (2 ** this.bits - 1) << (bit & 7);
        block[bit >> 3] = (block[bit >> 3]! & ~mask) | (v << (bit & 7));
      }
    }
  }

  /** Writes the changed sectors of the refcount table (caller orders and flushes). */
  async writeTableSectors(): Promise<void> {
    const sectors = [...this.dirtySectors].sort((a, b) => a - b);
    this.dirtySectors.clear();
    try {
      await Promise.all(
        sectors.map((s) =>
          this.file.write(
            this.tableOffset + s * META_SECTOR,
            Buffer.from(this.table.subarray(s * META_SECTOR, (s + 1) * META_SECTOR)),
          ),
        ),
      );
    } catch (err) {
      for (const s of sectors) this.dirtySectors.add(s);
      throw err;
    }
  }
}
