/**
 * What an NBD export is served from. The NBD server needs nothing from the
 * block graph but this: the graph layer (or a test) implements it over a
 * node. Offsets and lengths are byte counts below 2^53; the server has
 * already checked every range against size() before it calls a method.
 *
 * Errors: a method that fails throws an Error whose `code` is an errno name
 * (EIO, ENOSPC, EPERM, EROFS, ENOTSUP, ...); the server maps it to the NBD
 * error value as QEMU does (errno.ts). An error without a code is reported as
 * EIO and logged.
 *
 * Admission and draining: every backend call may simply wait (a drained node
 * holds requests); a waiting call never blocks the reading of other requests
 * or the replies of others on the same connection. For exact in-flight
 * accounting, beginRequest/endRequest bracket each request from admission
 * until its reply has been queued on the socket.
 */

/** One base:allocation extent. */
export interface NbdAllocationExtent {
  /** bytes (> 0) */
  length: number;
  /** not allocated in any layer (NBD_STATE_HOLE) */
  hole: boolean;
  /** reads as zeroes (NBD_STATE_ZERO); false means "unknown" */
  zero: boolean;
}

/** One qemu:allocation-depth extent: 0 unallocated, 1 the top layer, 2 its backing, ... */
export interface NbdDepthExtent {
  length: number;
  depth: number;
}

/** One qemu:dirty-bitmap:NAME extent. */
export interface NbdDirtyExtent {
  length: number;
  dirty: boolean;
}

export interface NbdDirtyBitmapSource {
  /** Extents from `offset`, in order, covering at least one byte and at most `length` bytes (more is clamped). */
  extents(offset: number, length: number): Promise<NbdDirtyExtent[]>;
}

export interface NbdZeroOptions {
  /** the range may be deallocated (no NBD_CMD_FLAG_NO_HOLE) */
  mayUnmap: boolean;
  /** durable when the promise resolves (NBD_CMD_FLAG_FUA) */
  fua: boolean;
  /** fail with code ENOTSUP unless zeroing is faster than writing (NBD_CMD_FLAG_FAST_ZERO) */
  fastZero: boolean;
}

/** The command a request carries, for admission hooks. */
export type NbdRequestKind = 'read' | 'write' | 'write-zeroes' | 'trim' | 'flush' | 'cache' | 'block-status';

export interface NbdExportBackend {
  /** The export name clients ask for (at most 4096 bytes of UTF-8). */
  readonly name: string;
  /** Sent as NBD_INFO_DESCRIPTION and in NBD_OPT_LIST replies when set. */
  readonly description?: string;
  /** false: the export is flagged READ_ONLY and write commands are refused. */
  readonly writable: boolean;
  /** Current size in bytes; the export shows it rounded down to 512 and checks every request against it. */
  size(): number;
  /** Fill `buf` with the bytes at `offset`. */
  read(offset: number, buf: Buffer): Promise<void>;
  /** Store `data` at `offset`; with `fua` it is durable when the promise resolves. `data` is owned by the callee. */
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  writeZeroes(offset: number, length: number, opts: NbdZeroOptions): Promise<void>;
  /** Discard hint (NBD_CMD_TRIM): the content afterwards is unspecified. */
  trim(offset: number, length: number): Promise<void>;
  /** Make every completed write durable. */
  flush(): Promise<void>;
  /** Prefetch hint (NBD_CMD_CACHE); absent means a no-op success. */
  cache?(offset: number, length: number): Promise<void>;
  /**
   * base:allocation extents through the whole backing chain, from `offset`, in order,
   * covering at least one byte (more than `length` is clamped). The server calls
   * again for the rest of the range when it needs more.
   */
  blockStatus(offset: number, length: number): Promise<NbdAllocationExtent[]>;
  /**
   * Send zero runs of READ replies as OFFSET_HOLE chunks (as QEMU does), at the
   * cost of one blockStatus call per READ. Leave false when blockStatus cannot
   * see holes (then every READ is one data chunk).
   */
  readonly sparseReads?: boolean;
  /** Offer the qemu:allocation-depth context (block-export-add allocation-depth=on). */
  readonly allocationDepthEnabled: boolean;
  /** Extents of qemu:allocation-depth; absent means every byte is at depth 1. */
  allocationDepth?(offset: number, length: number): Promise<NbdDepthExtent[]>;
  /** Exported bitmap names, in the order given to block-export-add; contexts qemu:dirty-bitmap:NAME. */
  readonly bitmaps: readonly string[];
  /** The bitmap behind a name of `bitmaps`; undefined fails the request with EINVAL. */
  dirtyBitmap?(name: string): NbdDirtyBitmapSource | undefined;
  /**
   * The alignment the export wants, advertised as the minimum block size to
   * clients that request NBD_INFO_BLOCK_SIZE (and in NBD_OPT_INFO). Default 1.
   */
  readonly requestAlignment?: number;
  /** Largest transfer the node takes; the advertised maximum is min(this, 32 MiB). */
  readonly maxTransfer?: number;
  /**
   * A valid request is admitted: count it in flight. Returning a promise holds
   * the request (drained node) until it resolves; nothing else on the
   * connection waits for it.
   */
  beginRequest?(kind: NbdRequestKind): void | Promise<void>;
  /** The reply of an admitted request has been queued (or dropped with its connection). Called once per beginRequest. */
  endRequest?(kind: NbdRequestKind): void;
}
