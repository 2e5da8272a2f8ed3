/**
 * The block driver interface. A driver is a plain object registered by name
 * in the driver table (drivers/registry.ts), like an nbdkit plugin; opening a
 * node gives a DriverInstance. Offsets and lengths are byte counts below 2^53.
 *
 * The generic node layer (block/node.ts) checks ranges, read-only state and
 * permissions and counts requests in flight before it calls a driver, so a
 * driver holds only the semantics of its format or protocol.
 */
import type { Logger } from 'pino';
import type { QDict } from '../../qmp/json/value.js';

export interface WriteFlags {
  /** force unit access: the data is on stable storage when the write completes */
  fua?: boolean;
}

export interface ZeroFlags extends WriteFlags {
  /** the range may be deallocated (punched) instead of written */
  mayUnmap?: boolean;
  /** fail with ENOTSUP rather than fall back to writing zero buffers */
  noFallback?: boolean;
}

/** Status of the first extent of a range, as one layer sees it. */
export interface BlockStatusExtent {
  /** bytes from the queried offset that share this status (> 0) */
  length: number;
  /**
   * 'data': allocated in this layer, reads return stored data;
   * 'zero': allocated in this layer (or known) to read as zeroes;
   * 'unallocated': not in this layer, reads fall through to the backing child.
   */
  status: 'data' | 'zero' | 'unallocated';
}

/** A child edge (file, backing) as its parent's driver uses it. Reads past the end return zeroes. */
export interface ChildIo {
  readonly nodeName: string;
  length(): number;
  read(offset: number, buf: Buffer): Promise<void>;
  /**
   * Hands over the file's first bytes when they are in memory already (a new
   * overlay), once: the format driver reads its metadata from them at open,
   * and nothing keeps them afterwards. Never to be modified.
   */
  takeKnownHead?(): Buffer | undefined;
  write(offset: number, data: Buffer, flags?: WriteFlags): Promise<void>;
  writeZeroes(offset: number, length: number, flags?: ZeroFlags): Promise<void>;
  discard(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
  truncate(length: number): Promise<void>;
  /** Status through the child's whole chain below it ('unallocated' only past all layers). */
  blockStatus(offset: number, length: number): Promise<BlockStatusExtent>;
  /** What the child's driver tells of its image (bdrv_get_info), if it tells anything. */
  imageInfo?(): DriverImageInfo | undefined;
}

/** A host file that is already open, with what is known about it. */
export interface OpenedHostFile {
  readonly handle: import('node:fs/promises').FileHandle;
  readonly size: number;
  /** device:inode */
  readonly identity: string;
  /** The file's first bytes as just written, when known, to answer the first reads without I/O. */
  readonly head?: Buffer;
}

export interface DriverOpenContext {
  readonly nodeName: string;
  /** The driver-specific members of BlockdevOptions (already validated; children excluded). */
  readonly options: QDict;
  readonly readOnly: boolean;
  /** cache.direct, the node's own or inherited (QEMU's BDRV_O_NOCACHE). */
  readonly cacheDirect?: boolean;
  /** Protocol drivers: open this host path instead of `filename` (an image not yet renamed into place). */
  readonly hostPath?: string;
  /** Protocol drivers: the file is open already (an overlay just created); take it over. */
  readonly openedFile?: OpenedHostFile;
  /** The opened `file` child of a format driver. */
  readonly file?: ChildIo;
  /** The current backing child; it changes when the graph changes (snapshots). */
  backing(): ChildIo | null;
  readonly log: Logger;
}

/** One dirty bitmap as stored in an image (qcow2 bitmaps extension). */
export interface StoredBitmap {
  name: string;
  granularity: number;
  /** recording ('auto' flag in qcow2) */
  enabled: boolean;
  /** the image was not closed cleanly while the bitmap was in use ('in-use' flag) */
  inconsistent?: boolean;
  /** one bit per granule, least significant bit first within each byte */
  bits: Uint8Array;
}

/** One internal snapshot stored in an image (qcow2 snapshot table), with SnapshotInfo's members. */
export interface InternalSnapshot {
  id: string;
  name: string;
  vmStateSize: number;
  dateSec: number;
  dateNsec: number;
  /** the VM clock split as SnapshotInfo reports it: whole seconds and the nanoseconds left */
  vmClockSec: number;
  vmClockNsec: number;
  /** absent when the snapshot was taken without record/replay */
  icount?: number;
  /** virtual disk size when it was taken */
  diskSize: number;
}

/** What the caller of createSnapshot records about the moment (QEMU takes them in blockdev.c). */
export interface SnapshotTimes {
  dateSec: number;
  dateNsec: number;
  vmClockNsec: bigint;
  /** omitted: no record/replay icount */
  icount?: bigint;
}

/** query-named-block-nodes' ImageInfo members a format knows about itself. */
export interface DriverImageInfo {
  clusterSize?: number;
  formatSpecific?: { type: string; data: Record<string, unknown> };
  dirtyFlag?: boolean;
}

export interface DriverInstance {
  /** Virtual size in bytes. */
  length(): number;
  read(offset: number, buf: Buffer): Promise<void>;
  /** See ChildIo.takeKnownHead (protocol drivers). */
  takeKnownHead?(): Buffer | undefined;
  write?(offset: number, data: Buffer, flags: WriteFlags): Promise<void>;
  writeZeroes?(offset: number, length: number, flags: ZeroFlags): Promise<void>;
  discard?(offset: number, length: number): Promise<void>;
  flush?(): Promise<void>;
  truncate?(length: number): Promise<void>;
  /** Status of this layer only; absent means everything is 'data'. */
  blockStatus?(offset: number, length: number): Promise<BlockStatusExtent>;
  /** Backing file recorded in the image (qcow2 header), if the format has one. */
  backingReference?(): { filename: string; format?: string } | null;
  /** Record a new backing file name in the image header (change-backing-file, snapshot). */
  setBackingReference?(filename: string | null, format: string | null): Promise<void>;
  imageInfo?(): DriverImageInfo | undefined;
  /**
   * blockdev-reopen: the driver's reopen_prepare on the new driver-specific
   * options, with QEMU's checks; returns what its commit changes, if anything.
   */
  prepareReopen?(options: QDict): (() => void) | void;
  /** Switch between read-only and read-write without closing (snapshot commit, reopen). */
  reopen?(readOnly: boolean): Promise<void>;
  /** Persistent bitmaps found at open (formats that store them). */
  loadBitmaps?(): Promise<StoredBitmap[]>;
  /** Replace the persistent bitmaps stored in the image (called before close). */
  storeBitmaps?(bitmaps: StoredBitmap[]): Promise<void>;
  /** Takes one persistent bitmap out of the image (when it is removed); absent is not an error. */
  removeStoredBitmap?(name: string): Promise<void>;
  /** Internal snapshots stored in the image, in table order (formats that have them). */
  listSnapshots?(): InternalSnapshot[];
  /** Takes an internal snapshot of the current state; the id is chosen by the format. */
  createSnapshot?(name: string, times?: SnapshotTimes): Promise<InternalSnapshot>;
  /** Deletes the snapshot matching `id` and/or `name` (both must match when both are given). */
  deleteSnapshot?(id: string | undefined, name: string | undefined): Promise<InternalSnapshot>;
  /** Bytes the image occupies on its host storage (protocol drivers); a number when known without I/O. */
  allocatedSize?(): number | Promise<number>;
  /** Identity of the host file (device and inode) for image locking (protocol drivers). */
  fileIdentity?(): string;
  /** Filename as QEMU reports it (protocol drivers: the path as given). */
  filename?(): string;
  /** The host file was renamed (an overlay's temporary name became its real one). */
  hostPathChanged?(path: string): void;
  close(): Promise<void>;
}

export interface BlockDriver {
  readonly name: string;
  /** Protocol drivers have no `file` child (file, null-co). */
  readonly protocol: boolean;
  /** Can carry a backing child (qcow2). */
  readonly supportsBacking: boolean;
  /** Filters pass I/O through to one child; they cannot be snapshot overlays. */
  readonly filter?: boolean;
  /** blockdev-reopen: the options its reopen_prepare takes (any other must stay as it is). */
  readonly reopenOptions?: readonly string[];
  /** Options its reopen_prepare reads and gives back as text (file-posix): they equal only text. */
  readonly reopenOptionsAsText?: readonly string[];
  /** QEMU's mutable_opts: explicit options that a reopen may leave out. */
  readonly mutableOptions?: readonly string[];
  open(ctx: DriverOpenContext): Promise<DriverInstance>;
}
