/**
 * qcow2 on-disk constants and qmpd's own limits (docs/qcow2-format.md §1-§5).
 * All metadata integers are big-endian.
 */

export const QCOW2_MAGIC = 0x514649fb;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
export const DEFAULT_CLUSTER_BITS = 16;
/** Fixed header sizes: v2 ends at 72, v3 at 104; QEMU 7.2 writes header_length 112. */
export const V2_HEADER_LENGTH = 72;
export const V3_MIN_HEADER_LENGTH = 104;
export const V3_WRITTEN_HEADER_LENGTH = 112;
export const MAX_BACKING_NAME = 1023;
/** QEMU keeps the backing format in a 16-byte buffer, so 15 characters at most. */
export const MAX_BACKING_FORMAT = 15;

/** QEMU's QCOW_MAX_L1_SIZE and QCOW_MAX_REFTABLE_SIZE. */
export const MAX_L1_BYTES = 32 * 1024 * 1024;
export const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
/** QEMU refuses virtual sizes above 2^62 ("Image is too big"). */
export const MAX_VIRTUAL_SIZE = 2 ** 62;
/** Offsets beyond this cannot be JS numbers exactly; no real file gets there. */
export const MAX_SAFE_OFFSET = Number.MAX_SAFE_INTEGER;

// Header field offsets that are rewritten in place.
export const OFF_SIZE = 24;
export const OFF_L1_SIZE = 36;
export const OFF_REFTABLE = 48;
export const OFF_INCOMPAT = 72;
export const OFF_AUTOCLEAR = 88;

// Incompatible feature bits.
export const INCOMPAT_DIRTY = 0x1n;
export const INCOMPAT_CORRUPT = 0x2n;
export const INCOMPAT_DATA_FILE = 0x4n;
export const INCOMPAT_COMPRESSION = 0x8n;
export const INCOMPAT_EXTL2 = 0x10n;
export const INCOMPAT_KNOWN = 0x1fn;
// Compatible / autoclear bits.
export const COMPAT_LAZY_REFCOUNTS = 0x1n;
export const AUTOCLEAR_BITMAPS = 0x1n;

// Header extension types.
export const EXT_END = 0x00000000;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;
export const FEATURE_ENTRY_SIZE = 48;

// L1/L2 entry bits, split into 32-bit halves (hi = bits 32-63, lo = bits 0-31).
export const HI_COPIED = 0x80000000;
export const HI_COMPRESSED = 0x40000000;
export const HI_OFFSET = 0x00ffffff;
export const LO_OFFSET = 0xfffffe00;
export const LO_ZERO = 0x1;
export const L1_HI_RESERVED = 0x7f000000;
export const L1_LO_RESERVED = 0x1ff;

/** Compressed clusters are accounted in 512-byte sectors. */
export const COMPRESSED_SECTOR = 512;

// Caches (qmpd's choices). QEMU's default L2 cache covers up to 32 MiB of tables.
export const L2_CACHE_BYTES = 32 * 1024 * 1024;
export const L2_CACHE_MIN_TABLES = 16;
export const REFBLOCK_CACHE_BYTES = 4 * 1024 * 1024;
export const REFBLOCK_CACHE_MIN_BLOCKS = 8;
/** Dirty metadata (L2 tables + refcount blocks) allowed before an allocating request writes it back. */
export const MAX_DIRTY_BYTES = 16 * 1024 * 1024;
/** Freed clusters waiting for their L2 change to be durable before a write-back is forced. */
export const MAX_PENDING_FREES = 4096;
/** Below this size a COW write is merged into one buffer (one syscall beats three). */
export const COW_MERGE_LIMIT = 64 * 1024;
/** L1/reftable entries are written back in 512-byte sectors, as QEMU does. */
export const META_SECTOR = 512;
