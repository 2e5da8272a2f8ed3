/**
 * A node of the block graph (QEMU's BlockDriverState): a driver instance,
 * its children by role, its parents, its dirty bitmaps, and the generic
 * checks every request passes once before the driver sees it. Requests are
 * counted in flight here; they are never held here (admission control is at
 * the BlockBackends, see drain.ts).
 */
import type { DirtyBitmap } from './bitmap.js';
import type { BdrvChild } from './child.js';
import type { BlockDriver, BlockStatusExtent, DriverInstance, WriteFlags, ZeroFlags } from './drivers/driver.js';
import { InFlight } from './inflight.js';
import type { NodeParent } from './parent.js';
import { QmpError } from '../qmp/error.js';
import { isZeroBuffer } from '../util/zero.js';
import type { QDict } from '../qmp/json/value.js';

/** Block status through a chain: which layer (1 = this node) holds the data, 0 = none. */
export interface ChainStatus extends BlockStatusExtent {
  depth: number;
}

export class BlockNode implements NodeParent {
  readonly parentKind = 'node';
  readonly children = new Map<string, BdrvChild>();
  /** Edges pointing at this node, newest first (QEMU's bs->parents order). */
  readonly parents: BdrvChild[] = [];
  readonly inFlight = new InFlight();
  /** Newest first, as query-named-block-nodes lists them. */
  readonly bitmaps: DirtyBitmap[] = [];
  instance!: DriverInstance;
  /** Created by blockdev-add / --blockdev: the monitor holds a reference. */
  monitorOwned = false;
  /** bs->backing_format */
  backingFormat = '';
  private headerBackingFile = '';
  private autoBacking = '';
  /**
   * nodeFilename()'s answer, kept until something it depends on changes: this
   * node's children or backing names, or anything below them. Whenever a node
   * holds one, so do its children (filename.ts), so clearing can stop at a node
   * without one.
   */
  cachedFilename: string | undefined;
  /** block-set-write-threshold, as QEMU prints it back (int64); 0 = none. */
  writeThreshold = 0;
  /** Highest byte offset written so far (query-blockstats). */
  wrHighestOffset = 0;
  /** Announces BLOCK_WRITE_THRESHOLD (set by the graph). */
  onWriteThreshold: ((node: BlockNode, exceeded: number, threshold: number) => void) | undefined;
  closed = false;
  /**
   * Writes since the last flush. Like QEMU's write_gen/flushed_gen, a node nobody
   * wrote to since it was opened has nothing to flush.
   */
  private unflushed = false;
  /** discard=unmap: discard requests reach the driver; with 'ignore' (the default) they do nothing. */
  unmap = false;
  /** cache.direct / cache.no-flush in effect (inherited by implicit children). */
  cache = { direct: false, noFlush: false };
  /** force-share: this node's image locks let everyone do everything (read-only users only). */
  forceShare = false;
  /** The node that opened this one implicitly (inline or from its header); reopens follow it. */
  inheritsFrom: BlockNode | undefined;

  constructor(
    public nodeName: string,
    readonly autoNamed: boolean,
    readonly driver: BlockDriver,
    /** The BlockdevOptions this node was opened with (children as given), or its explicit ones since a reopen. */
    private opts: QDict,
    public readOnly: boolean,
  ) {}

  get options(): QDict {
    return this.opts;
  }

  /** blockdev-reopen's new explicit options; the filename may spell them out. */
  replaceOptions(options: QDict): void {
    this.opts = options;
    this.filenameChanged();
  }

  /** bs->backing_file: the backing file name recorded in the image header ('' if none). */
  get backingFile(): string {
    return this.headerBackingFile;
  }

  set backingFile(name: string) {
    this.headerBackingFile = name;
    this.filenameChanged();
  }

  /**
   * bs->auto_backing_file: the header's backing name as written, or, once the
   * backing was opened from it, that node's filename. A backing child with another
   * filename was chosen by the user, and the node's filename then spells it out.
   */
  get autoBackingFile(): string {
    return this.autoBacking;
  }

  set autoBackingFile(name: string) {
    this.autoBacking = name;
    this.filenameChanged();
  }

  /** This node's filename, and so that of every node above it, must be worked out again. */
  filenameChanged(): void {
    if (this.cachedFilename === undefined) return;
    this.cachedFilename = undefined;
    for (const e of this.parents) if (e.parent instanceof BlockNode) e.parent.filenameChanged();
  }

  describeUser(): string {
    return `node '${this.nodeName}'`;
  }

  get file(): BdrvChild | undefined {
    return this.children.get('file');
  }

  get backing(): BdrvChild | undefined {
    return this.children.get('backing');
  }

  /** bdrv_getlength(): QEMU counts whole 512-byte sectors, so a file's odd tail rounds up. */
  length(): number {
    const len = this.instance.length();
    return len % 512 === 0 ? len : len + 512 - (len % 512);
  }

  takeKnownHead(): Buffer | undefined {
    return this.instance.takeKnownHead?.();
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    this.inFlight.inc();
    try {
      await this.instance.read(offset, buf);
    } finally {
      this.inFlight.dec();
    }
  }

  async write(offset: number, data: Buffer, flags: WriteFlags = {}): Promise<void> {
    this.checkWritable(this.instance.write);
    // detect-zeroes: a write of nothing but zeroes becomes a zero write (bdrv_aligned_pwritev)
    const detect = this.options['detect-zeroes'];
    if (detect !== undefined && detect !== 'off' && this.instance.writeZeroes && isZeroBuffer(data)) {
      return this.writeZeroes(offset, data.length, { fua: flags.fua, mayUnmap: detect === 'unmap' });
    }
    this.inFlight.inc();
    try {
      this.markDirty(offset, data.length);
      await this.instance.write!(offset, data, flags);
      this.unflushed = true;
    } finally {
      this.inFlight.dec();
    }
  }

  async writeZeroes(offset: number, length: number, flags: ZeroFlags = {}): Promise<void> {
    this.checkWritable(this.instance.write);
    this.inFlight.inc();
    try {
      this.markDirty(offset, length);
      if (this.instance.writeZeroes) {
        await this.instance.writeZeroes(offset, length, flags);
      } else {
        if (flags.noFallback) throw QmpError.io('ENOTSUP', 'Operation not supported');
        await this.instance.write!(offset, Buffer.alloc(length), flags);
      }
    } finally {
      this.inFlight.dec();
    }
  }

  async discard(offset: number, length: number): Promise<void> {
    this.checkWritable(this.instance.write);
    // bdrv_co_pdiscard(): nothing at all, not even a dirty bit, unless the node unmaps
    if (!this.unmap || !this.instance.discard) return;
    this.inFlight.inc();
    try {
      this.markDirty(offset, length);
      await this.instance.discard(offset, length);
    } finally {
      this.inFlight.dec();
    }
  }

  /** A flush with nothing written since the last one is a no-op (snapshots flush often). */
  async flush(): Promise<void> {
    // cache.no-flush: flushes are ignored (QEMU's BDRV_O_NO_FLUSH)
    if (!this.instance.flush || !this.unflushed || this.cache.noFlush) return;
    this.unflushed = false;
    this.inFlight.inc();
    try {
      await this.instance.flush();
    } catch (err) {
      this.unflushed = true;
      throw err;
    } finally {
      this.inFlight.dec();
    }
  }

  /** bdrv_co_truncate(): its checks in its order, also when a parent driver resizes its child. */
  async truncate(length: number): Promise<void> {
    if (this.readOnly) throw QmpError.generic('Image is read-only');
    if (!this.instance.truncate) throw QmpError.generic('Image format driver does not support resize');
    this.unflushed = true;
    this.inFlight.inc();
    try {
      await this.instance.truncate!(length);
      for (const b of this.bitmaps) b.resize(length);
    } finally {
      this.inFlight.dec();
    }
  }

  /** Status of the first extent at `offset`, looking down the backing chain. */
  async blockStatusAbove(offset: number, length: number): Promise<ChainStatus> {
    this.inFlight.inc();
    try {
      const s = this.instance.blockStatus
        ? await this.instance.blockStatus(offset, length)
        : { length, status: 'data' as const };
      if (s.status !== 'unallocated') return { ...s, depth: 1 };
      const backing = this.backing;
      if (!backing) return { ...s, depth: 0 };
      const backingLength = backing.child.length();
      if (offset >= backingLength) return { length: s.length, status: 'zero', depth: 0 };
      const below = await backing.child.blockStatusAbove(offset, Math.min(s.length, backingLength - offset));
      return { length: below.length, status: below.status, depth: below.depth === 0 ? 0 : below.depth + 1 };
    } finally {
      this.inFlight.dec();
    }
  }

  private checkWritable(op: unknown): void {
    if (this.readOnly) throw QmpError.io('EPERM', 'Operation not permitted');
    if (!op) throw QmpError.io('ENOTSUP', 'Operation not supported');
  }

  private markDirty(offset: number, length: number): void {
    this.unflushed = true;
    const end = offset + length;
    if (end > this.wrHighestOffset) this.wrHighestOffset = end;
    // the threshold fires once, on the first write that crosses it (compared unsigned)
    const threshold = this.writeThreshold < 0 ? this.writeThreshold + 2 ** 64 : this.writeThreshold;
    if (this.writeThreshold !== 0 && end > threshold) {
      this.writeThreshold = 0;
      this.onWriteThreshold?.(this, end - threshold, threshold);
    }
    for (const b of this.bitmaps) if (b.recording) b.setRange(offset, length);
  }
}
