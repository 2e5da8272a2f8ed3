/**
 * One open qcow2 image: the parsed header, the in-memory L1 and refcount
 * tables, the metadata caches and the synchronisation state. Opening reads
 * and validates only; nothing is written before the first modification.
 *
 * Concurrency invariant: every change to metadata (L1, L2, refcounts, header)
 * happens with `lock` held, and an L2 entry that points at a host cluster is
 * only ever set for a guest cluster registered in `inflight` by the request
 * that allocated it. Reads and writes into clusters that are already
 * allocated (COPIED) run without the lock. The lock is held across awaits of
 * the file child only (and the backing child for copy-on-write reads), never
 * across anything that waits for the graph to drain. Operations on the whole
 * image (internal snapshots, resize) also close `gate`: no guest write, and
 * so no allocation, is in flight while they change what is shared or mapped.
 */
import type { Logger } from 'pino';
import type { QmpError } from '../../../qmp/error.js';
import type { ChildIo } from '../driver.js';
import { Allocator } from './allocator.js';
import {
  AUTOCLEAR_BITMAPS, INCOMPAT_CORRUPT, INCOMPAT_DATA_FILE, INCOMPAT_DIRTY, INCOMPAT_EXTL2,
  L2_CACHE_BYTES, L2_CACHE_MIN_TABLES, MAX_DIRTY_BYTES, MAX_PENDING_FREES, OFF_AUTOCLEAR, OFF_INCOMPAT,
} from './constants.js';
import { entryOffset } from './entries.js';
import { hex, qcow2Errors as E } from './errors.js';
import { DeferredFrees } from './frees.js';
import { headerClusterBits, parseHeader, type Qcow2Header } from './header.js';
import { InflightAllocations } from './inflight.js';
import { L1Table } from './l1.js';
import { MetaCache } from './meta-cache.js';
import { Mutex } from './mutex.js';
import { Refcounts } from './refcount.js';
import { EXTL2_ENTRY_BYTES } from './subclusters.js';
import { readSnapshotTable, type SnapshotEntry } from './snapshot-table.js';
import { WriteGate } from './gate.js';
import { writeback, type MetadataSet } from './writeback.js';

export interface ImageOpenOptions {
  file: ChildIo;
  backing: () => ChildIo | null;
  readOnly: boolean;
  log: Logger;
}

/**
 * Bytes read at once when opening: the header cluster and, for images laid out
 * as qemu-img and qmpd create them, the refcount table and L1 table too, so
 * opening a fresh overlay costs one read instead of four.
 */
const HEAD_READ = 256 * 1024;
/** Enough for any header field qmpd reads before it knows the cluster size. */
const HEADER_READ_MIN = 4096;

export class Qcow2Image implements MetadataSet {
  readonly lock = new Mutex();
  readonly inflight = new InflightAllocations();
  /** Guest writes enter it; snapshot and resize operations run alone in it. */
  readonly gate = new WriteGate();
  readonly frees = new DeferredFrees();
  readonly cs: number;
  readonly clusterBits: number;
  /** Entries per L2 table. */
  readonly l2Entries: number;
  /** Bytes per L2 entry: 8, or 16 with extended L2 entries. */
  readonly l2EntryBytes: number;
  /** Extended L2 entries: 32 subclusters per cluster, each with its own allocated and zero bit. */
  readonly extL2: boolean;
  /** v3 images can record "reads as zeroes" (zero flag, or zero bits of extended entries). */
  readonly zeroFlag: boolean;
  /** Bit 0 of a descriptor is the zero flag (v3 without extended L2; with it the bit is unused). */
  readonly zeroBit: boolean;
  readonly l2: MetaCache;
  readonly allocator: Allocator;
  readOnly: boolean;
  /** Set when corruption was found at runtime: writes are refused from then on. */
  corrupt = false;
  private writeReady = false;
  /**
   * Set after a data write into new clusters failed: bytes of it may sit past
   * what the file child reports as its end, so "past the end" no longer
   * proves that a cluster reads as zeroes.
   */
  dataWriteFailed = false;
  /** Data went into new clusters since the last flush (write-back flushes before exposing it). */
  dataSinceSync = false;
  /** Extra work for the first modification (bitmaps.ts marks stored bitmaps in use). */
  firstWriteHooks: (() => Promise<void>)[] = [];
  /** Internal snapshots, in table order (snapshots.ts replaces the list as a whole). */
  snapshots: SnapshotEntry[] = [];
  /** Bytes the snapshot table occupies at `header.snapshotsOffset`. */
  snapshotTableBytes = 0;

  private constructor(
    readonly file: ChildIo,
    readonly backingChild: () => ChildIo | null,
    readonly header: Qcow2Header,
    readonly l1: L1Table,
    readonly refs: Refcounts,
    readOnly: boolean,
    readonly log: Logger,
  ) {
    this.readOnly = readOnly;
    this.clusterBits = header.clusterBits;
    this.cs = 2 ** header.clusterBits;
    this.extL2 = (header.incompatible & INCOMPAT_EXTL2) !== 0n;
    this.l2EntryBytes = this.extL2 ? EXTL2_ENTRY_BYTES : 8;
    this.l2Entries = this.cs / this.l2EntryBytes;
    this.zeroFlag = header.version >= 3;
    this.zeroBit = this.zeroFlag && !this.extL2;
    const l2Capacity = Math.max(L2_CACHE_MIN_TABLES, Math.floor(L2_CACHE_BYTES / this.cs));
    this.l2 = new MetaCache(l2Capacity, this.cs, (off, buf) => file.read(off, buf));
    this.allocator = new Allocator(refs, file, () => {
      header.refcountTableOffset = refs.tableOffset;
      header.refcountTableClusters = refs.tableClusters;
    });
  }

  static async open(o: ImageOpenOptions): Promise<Qcow2Image> {
    // a new overlay's bytes are in memory; else a small image is read whole
    let first = o.file.takeKnownHead?.();
    if (!first) {
      first = Buffer.alloc(Math.min(HEAD_READ, Math.max(o.file.length(), HEADER_READ_MIN)));
      await o.file.read(0, first);
    }
    // serves reads that fall inside the bytes read already
    const readMeta = async (offset: number, buf: Buffer): Promise<void> => {
      if (offset + buf.length <= first.length) first.copy(buf, 0, offset, offset + buf.length);
      else await o.file.read(offset, buf);
    };
    const cs = 2 ** headerClusterBits(first);
    let head = first.subarray(0, cs);
    if (cs > first.length) {
      head = Buffer.alloc(cs);
      await o.file.read(0, head);
    }
    const h = parseHeader(head, o.readOnly);
    if (h.cryptMethod !== 0) throw E.encrypted();
    if ((h.incompatible & INCOMPAT_DATA_FILE) !== 0n) throw E.dataFile();
    if (!o.readOnly && (h.incompatible & INCOMPAT_DIRTY) !== 0n) throw E.dirtyReadWrite();

    const fileLength = o.file.length();
    const rtStart = h.refcountTableOffset;
    const rtEnd = rtStart + h.refcountTableClusters * cs;
    if (rtStart < cs) throw E.corrupt('the refcount table overlaps the qcow2 header');
    if (rtStart >= fileLength) throw E.corrupt('the refcount table lies past the end of the file');
    const l1Bytes = h.l1Size * 8;
    if (h.l1Size > 0) {
      const l1Start = h.l1TableOffset;
      if (l1Start < cs) throw E.corrupt('the active L1 table overlaps the qcow2 header');
      if (l1Start < rtEnd && rtStart < l1Start + l1Bytes) {
        throw E.corrupt('the active L1 table overlaps the refcount table');
      }
      if (l1Start >= fileLength) throw E.corrupt('the active L1 table lies past the end of the file');
    }

    const l1Buf = Buffer.alloc(l1Bytes);
    if (l1Bytes > 0) await readMeta(h.l1TableOffset, l1Buf);
    const l1 = new L1Table(o.file, l1Buf, h.l1Size, h.l1TableOffset);
    l1.validate(cs, fileLength);
    for (let i = 0; i < h.l1Size; i++) {
      const off = l1.l2Offset(i);
      if (off !== 0 && off < rtEnd && rtStart < off + cs) {
        throw E.corrupt(`L2 table of L1 entry ${i} overlaps the refcount table`);
      }
    }

    const table = Buffer.allocUnsafe(h.refcountTableClusters * cs); // filled whole by readMeta
    await readMeta(rtStart, table);
    // Most of the table is empty: test entries as raw words before decoding any (a 64 KiB
    // table has 8192 entries, and snapshots open many fresh images).
    const words = new Uint32Array(table.buffer, table.byteOffset, table.length / 4);
    for (let i = 0; i < table.length / 8; i++) {
      if (words[2 * i] === 0 && words[2 * i + 1] === 0) continue;
      const off = entryOffset(table, i * 8);
      const lowBits = table.readUInt32BE(i * 8 + 4) & 0x1ff;
      if (off % cs !== 0 || lowBits !== 0) {
        throw E.corrupt(`Refblock offset ${hex(off)} unaligned (reftable index: ${hex(i)})`);
      }
      if (off !== 0 && off >= fileLength) {
        throw E.corrupt(`Refblock offset ${hex(off)} is past the end of the file (reftable index: ${hex(i)})`);
      }
    }
    const refs = new Refcounts(o.file, cs, h.refcountOrder, table, rtStart, h.refcountTableClusters);
    const img = new Qcow2Image(o.file, o.backing, h, l1, refs, o.readOnly, o.log);
    if (h.nbSnapshots > 0) {
      const t = await readSnapshotTable(o.file, h.snapshotsOffset, h.nbSnapshots, h.size);
      img.snapshots = t.entries;
      img.snapshotTableBytes = t.bytes;
    }
    return img;
  }

  get size(): number {
    return this.header.size;
  }

  backing(): ChildIo | null {
    return this.backingChild();
  }

  /** The L2 table at `offset`, without an await when it is cached. */
  l2Table(offset: number): Buffer | Promise<Buffer> {
    return this.l2.peek(offset) ?? this.l2.get(offset);
  }

  /** Throws unless writes are allowed; performs the first-write header changes once. */
  async ensureWritable(): Promise<void> {
    if (this.readOnly) throw E.readOnly();
    if (this.corrupt) throw E.corruptReadWrite();
    if (this.writeReady) return;
    await this.lock.run(() => this.prepareFirstWrite());
  }

  /** Runs the first-write work again before the next modification. */
  rearmFirstWrite(): void {
    this.writeReady = false;
  }

  /** Call with the lock held. */
  async prepareFirstWrite(): Promise<void> {
    if (this.writeReady) return;
    const h = this.header;
    // autoclear bits qmpd does not maintain must be cleared before the image changes
    const keep = h.bitmaps !== null ? AUTOCLEAR_BITMAPS : 0n;
    if (h.version >= 3 && (h.autoclear & ~keep) !== 0n) {
      const buf = Buffer.alloc(8);
      buf.writeBigUInt64BE(h.autoclear & keep);
      await this.file.write(OFF_AUTOCLEAR, buf);
      await this.file.flush();
      h.autoclear &= keep;
    }
    for (const hook of this.firstWriteHooks) await hook();
    this.writeReady = true;
  }

  /**
   * Records runtime corruption the way QEMU does: the corrupt bit goes into
   * the header (when writable) and further writes are refused.
   */
  async markCorrupt(err: QmpError): Promise<never> {
    if (!this.corrupt) {
      const what = this.readOnly ? 'Image is corrupt' : 'Marking image as corrupt';
      this.log.warn(`qcow2: ${what}: ${err.desc.replace(/^qcow2: Image is corrupt: /, '')}; further corruption events will be suppressed`);
    }
    if (!this.corrupt && !this.readOnly) {
      this.corrupt = true;
      this.header.incompatible |= INCOMPAT_CORRUPT;
      const buf = Buffer.alloc(8);
      buf.writeBigUInt64BE(this.header.incompatible);
      try {
        await this.file.write(OFF_INCOMPAT, buf);
        await this.file.flush();
      } catch (writeErr) {
        this.log.error({ err: writeErr }, 'qcow2: could not set the corrupt bit');
      }
    }
    this.corrupt = true;
    throw err;
  }

  /** Writes metadata back when enough has piled up; call with the lock held. */
  async maybeWriteback(): Promise<void> {
    if (
      (this.l2.dirtyCount + this.refs.blocks.dirtyCount) * this.cs > MAX_DIRTY_BYTES ||
      this.frees.size > MAX_PENDING_FREES
    ) {
      await writeback(this, false);
    }
  }

  /** Writes all metadata and flushes the file child. */
  async flush(): Promise<void> {
    if (this.readOnly) return;
    await this.lock.run(() => writeback(this, true));
  }
}
