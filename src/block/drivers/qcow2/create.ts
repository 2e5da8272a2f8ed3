/**
 * Creating a qcow2 image laid out as `qemu-img create -f qcow2` does
 * (docs/qcow2-format.md §7): cluster 0 header (+ backing format, feature
 * table, backing name), cluster 1 refcount table, cluster 2 refcount block,
 * then the L1 table, allocated by growing the new empty image to its size
 * exactly as QEMU's creation does (so refcount blocks for large L1 tables
 * land after it, like QEMU's).
 */
import { QmpError } from '../../../qmp/error.js';
import { silentLogger } from '../../../log.js';
import type { ChildIo } from '../driver.js';
import {
  COMPAT_LAZY_REFCOUNTS,
  DEFAULT_CLUSTER_BITS,
  INCOMPAT_COMPRESSION,
  INCOMPAT_EXTL2,
  MAX_CLUSTER_BITS,
  MAX_L1_BYTES,
  MIN_CLUSTER_BITS,
  V3_WRITTEN_HEADER_LENGTH,
} from './constants.js';
import type { Qcow2Header } from './header.js';
import { buildHeaderCluster } from './header-write.js';
import { Qcow2Image } from './image.js';
import { truncateImage } from './resize.js';
import { EXTL2_ENTRY_BYTES, MIN_EXTL2_CLUSTER_BITS } from './subclusters.js';

export interface Qcow2CreateOptions {
  /** virtual size in bytes; rounded up to a multiple of 512 as QEMU does */
  size: number;
  /** 512 B .. 2 MiB, a power of two; default 64 KiB */
  clusterSize?: number;
  backingFile?: string;
  backingFormat?: string;
  /** refcount entry width, 1..64 bits, a power of two; default 16 (v2: only 16) */
  refcountBits?: number;
  /** '1.1' (v3, default) or '0.10' (v2) */
  compat?: '0.10' | '1.1';
  /**
   * Sets the lazy-refcounts compatible bit (v3 only). qmpd itself always
   * updates refcounts eagerly; the bit lets QEMU defer them when it opens the image.
   */
  lazyRefcounts?: boolean;
  /** 16-byte L2 entries with 32 subclusters per cluster (v3, clusters of 16 KiB or more) */
  extendedL2?: boolean;
  /** compression type zstd (v3): compressed clusters are zstd frames; the header says so */
  zstd?: boolean;
}

const err = (desc: string): QmpError => QmpError.generic(desc);

/**
 * Writes a new, empty image. Returns its whole contents when they were
 * written in one piece (a buffer the caller may keep), else undefined.
 */
export async function formatQcow2(file: ChildIo, opts: Qcow2CreateOptions): Promise<Buffer | undefined> {
  const cs = opts.clusterSize ?? 2 ** DEFAULT_CLUSTER_BITS;
  const clusterBits = Math.log2(cs);
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw err('Cluster size must be a power of two between 512 and 2048k');
  }
  const version = opts.compat === '0.10' ? 2 : 3;
  const refcountBits = opts.refcountBits ?? 16;
  const refcountOrder = Math.log2(refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > 6) {
    throw err('Refcount width must be a power of two and may not exceed 64 bits');
  }
  if (version === 2 && refcountBits !== 16) {
    throw err(
      'Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or greater)',
    );
  }
  if (opts.lazyRefcounts && version === 2) {
    throw err('Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or greater)');
  }
  if (opts.extendedL2 && version === 2) {
    throw err('Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)');
  }
  if (opts.extendedL2 && clusterBits < MIN_EXTL2_CLUSTER_BITS) {
    throw err(`Extended L2 entries are only supported with cluster sizes of at least ${2 ** MIN_EXTL2_CLUSTER_BITS} bytes`);
  }
  if (opts.backingFormat !== undefined && opts.backingFile === undefined) {
    throw err('Backing format cannot be used without backing file');
  }
  if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw err("Parameter 'size' expects a size");
  const size = Math.ceil(opts.size / 512) * 512;

  const h: Qcow2Header = {
    version,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size: 0,
    cryptMethod: 0,
    l1Size: 0,
    l1TableOffset: 0,
    refcountTableOffset: cs,
    refcountTableClusters: 1,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatible: (opts.extendedL2 ? INCOMPAT_EXTL2 : 0n) | (opts.zstd ? INCOMPAT_COMPRESSION : 0n),
    compatible: opts.lazyRefcounts ? COMPAT_LAZY_REFCOUNTS : 0n,
    autoclear: 0n,
    refcountOrder,
    headerLength: version === 3 ? V3_WRITTEN_HEADER_LENGTH : 72,
    compressionType: opts.zstd ? 1 : 0,
    unknownHeaderFields: Buffer.alloc(0),
    backingFile: opts.backingFile ?? null,
    backingFormat: opts.backingFormat ?? null,
    featureNames: [],
    bitmaps: null,
    hasCryptoExtension: false,
    hasDataFileExtension: false,
    unknownExtensions: [],
  };
  if (file.length() > 0) await file.truncate(0);

  // Common case (everything counted by the first refcount block): the final layout
  // in one write, the same bytes the general path below ends with. Snapshots of
  // many disks create many images at once; this keeps each to one write and one flush.
  const l1Entries = Math.ceil(size / (cs * (cs / (opts.extendedL2 ? EXTL2_ENTRY_BYTES : 8))));
  const l1Clusters = Math.ceil((l1Entries * 8) / cs);
  if (size > 0 && 3 + l1Clusters <= (cs * 8) / refcountBits && l1Entries * 8 <= MAX_L1_BYTES) {
    const whole = Buffer.alloc(3 * cs + l1Entries * 8);
    buildHeaderCluster({ ...h, size, l1Size: l1Entries, l1TableOffset: 3 * cs }, whole);
    whole.writeBigUInt64BE(BigInt(2 * cs), cs);
    const refblock = whole.subarray(2 * cs, 3 * cs);
    for (let c = 0; c < 3 + l1Clusters; c++) writeRefcount(refblock, c, refcountBits, 1);
    await file.write(0, whole);
    await file.flush();
    return whole;
  }

  const image = Buffer.alloc(3 * cs);
  buildHeaderCluster(h, image);
  image.writeBigUInt64BE(BigInt(2 * cs), cs);
  const block = image.subarray(2 * cs);
  for (let c = 0; c < 3; c++) writeRefcount(block, c, refcountBits, 1);

  await file.write(0, image);
  await file.flush();
  if (size === 0) return undefined;

  const img = await Qcow2Image.open({ file, backing: () => null, readOnly: false, log: silentLogger() });
  await truncateImage(img, size);
  await img.flush();
  return undefined;
}

function writeRefcount(block: Buffer, i: number, bits: number, v: number): void {
  if (bits >= 8) {
    block.writeUIntBE(v, i * (bits / 8) + Math.max(0, bits / 8 - 6), Math.min(6, bits / 8));
    return;
  }
  const bit = i * bits;
  block[bit >> 3] = block[bit >> 3]! | (v << (bit & 7));
}
