/**
 * A bounded write-back cache of cluster-sized metadata tables (L2 tables,
 * refcount blocks), keyed by host offset, least recently used first.
 *
 * Dirty tables are never evicted: they leave the dirty set only through
 * write-back (writeback.ts), which keeps the on-disk ordering rules. Clean
 * tables beyond the capacity are dropped. Concurrent loads of one table share
 * one read.
 */
import { QmpError } from '../../../qmp/error.js';

export type TableLoader = (offset: number, buf: Buffer) => Promise<void>;

export class MetaCache {
  private readonly tables = new Map<number, Buffer>();
  private readonly dirty = new Set<number>();
  private readonly loading = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly capacity: number,
    private readonly tableSize: number,
    private readonly loader: TableLoader,
  ) {}

  /** The cached table, marked most recently used, or undefined. */
  peek(offset: number): Buffer | undefined {
    const t = this.tables.get(offset);
    if (t !== undefined) {
      this.tables.delete(offset);
      this.tables.set(offset, t);
    }
    return t;
  }

  /** The table, loading it from the file if needed. */
  get(offset: number): Promise<Buffer> {
    const t = this.peek(offset);
    if (t !== undefined) return Promise.resolve(t);
    let p = this.loading.get(offset);
    if (p === undefined) {
      p = this.load(offset);
      this.loading.set(offset, p);
    }
    return p;
  }

  private async load(offset: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(this.tableSize);
    try {
      await this.loader(offset, buf);
    } finally {
      this.loading.delete(offset);
    }
    const existing = this.tables.get(offset);
    if (existing !== undefined) return existing;
    this.tables.set(offset, buf);
    this.evict();
    return buf;
  }

  /** Puts a table that does not exist on disk yet (a new one); it starts dirty. */
  insertNew(offset: number, buf: Buffer): void {
    this.tables.delete(offset);
    this.tables.set(offset, buf);
    this.dirty.add(offset);
    this.evict();
  }

  /** Puts a table just written to disk by the caller; it starts clean. */
  insertClean(offset: number, buf: Buffer): void {
    this.tables.delete(offset);
    this.dirty.delete(offset);
    this.tables.set(offset, buf);
    this.evict();
  }

  /**
   * The table, marked dirty before it is returned, so that the caller's
   * synchronous changes cannot be lost to an eviction between load and change.
   */
  async getForUpdate(offset: number): Promise<Buffer> {
    for (;;) {
      const t = this.peek(offset) ?? (await this.get(offset));
      if (this.tables.get(offset) === t) {
        this.dirty.add(offset);
        return t;
      }
    }
  }

  markDirty(offset: number): void {
    if (!this.tables.has(offset)) throw QmpError.generic(`qcow2: metadata table at ${offset} is not cached`);
    this.dirty.add(offset);
  }

  /** Forgets a table whose cluster was freed (dirty or not: it must never be written back). */
  drop(offset: number): void {
    this.tables.delete(offset);
    this.dirty.delete(offset);
  }

  markClean(offset: number): void {
    this.dirty.delete(offset);
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** Dirty table offsets in ascending order (so write-back is mostly sequential). */
  dirtyOffsets(): number[] {
    return [...this.dirty].sort((a, b) => a - b);
  }

  private evict(): void {
    if (this.tables.size <= this.capacity) return;
    for (const off of this.tables.keys()) {
      if (this.tables.size <= this.capacity) return;
      if (!this.dirty.has(off)) this.tables.delete(off);
    }
  }
}
