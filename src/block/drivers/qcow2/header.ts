/**
 * Parsing and validation of the qcow2 header and its extensions (cluster 0).
 * Checks run in QEMU 7.2's order so that the first error reported is the one
 * qemu-io would report. Pure: works on a buffer, never touches the file.
 */
import {
  AUTOCLEAR_BITMAPS, COMPAT_LAZY_REFCOUNTS, EXT_BACKING_FORMAT, EXT_BITMAPS, EXT_CRYPTO, EXT_DATA_FILE, EXT_END,
  EXT_FEATURE_TABLE, FEATURE_ENTRY_SIZE, INCOMPAT_COMPRESSION, INCOMPAT_CORRUPT, INCOMPAT_EXTL2, INCOMPAT_KNOWN,
  MAX_BACKING_FORMAT, MAX_BACKING_NAME, MAX_CLUSTER_BITS, MAX_L1_BYTES, MAX_REFTABLE_BYTES,
  MAX_SAFE_OFFSET, MIN_CLUSTER_BITS, QCOW2_MAGIC, V2_HEADER_LENGTH, V3_MIN_HEADER_LENGTH,
  V3_WRITTEN_HEADER_LENGTH,
} from './constants.js';
import { qcow2Errors as E } from './errors.js';
import { EXTL2_ENTRY_BYTES, MIN_EXTL2_CLUSTER_BITS, SUBCLUSTERS } from './subclusters.js';

export interface FeatureName {
  /** 0 incompatible, 1 compatible, 2 autoclear */
  type: number;
  bit: number;
  name: string;
}

export interface HeaderExtension {
  type: number;
  data: Buffer;
}

export interface BitmapsExtension {
  nbBitmaps: number;
  directorySize: number;
  directoryOffset: number;
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  /** Header bytes past QEMU's 112-byte struct, kept when the header is rewritten. */
  unknownHeaderFields: Buffer;
  backingFile: string | null;
  backingFormat: string | null;
  featureNames: FeatureName[];
  bitmaps: BitmapsExtension | null;
  hasCryptoExtension: boolean;
  hasDataFileExtension: boolean;
  /** Extensions qmpd does not interpret, in file order, preserved on rewrite. */
  unknownExtensions: HeaderExtension[];
}

/** QEMU's QCOW_MAX_SNAPSHOTS and the size of a snapshot table entry's fixed part. */
const MAX_SNAPSHOTS = 65536;
const SNAPSHOT_HEADER_SIZE = 40;
const BITMAPS_EXT_SIZE = 24;

function u64(buf: Buffer, off: number): number {
  const v = buf.readBigUInt64BE(off);
  // Larger values cannot be offsets or sizes of a real file; they fail the checks below.
  return v > BigInt(MAX_SAFE_OFFSET) ? Infinity : Number(v);
}

/** QEMU's validate_table_offset: the table must be cluster aligned and not overflow int64. */
function tableOffsetValid(offset: number, entries: number, entryLen: number, cs: number): boolean {
  return Number.isFinite(offset) && offset + entries * entryLen <= MAX_SAFE_OFFSET && offset % cs === 0;
}

function featureList(incompatible: bigint, names: FeatureName[]): string {
  let rest = incompatible;
  const parts: string[] = [];
  for (const f of names) {
    const mask = 1n << BigInt(f.bit);
    if (f.type === 0 && (rest & mask) !== 0n) {
      parts.push(f.name);
      rest &= ~mask;
    }
  }
  if (rest !== 0n) parts.push(`Unknown incompatible feature: ${rest.toString(16)}`);
  return parts.join(', ');
}

/** The first checks (magic, version, cluster size); returns cluster_bits. */
export function headerClusterBits(head: Buffer): number {
  if (head.length < V3_MIN_HEADER_LENGTH || head.readUInt32BE(0) !== QCOW2_MAGIC) throw E.notQcow2();
  const version = head.readUInt32BE(4);
  if (version < 2 || version > 3) throw E.version(version);
  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) throw E.clusterSize(clusterBits);
  return clusterBits;
}

/**
 * Parses cluster 0. `head` holds the first cluster as read through the file
 * child (zero-filled past the end of the file, as QEMU reads it), at least 104 bytes.
 */
export function parseHeader(head: Buffer, readOnly: boolean): Qcow2Header {
  const clusterBits = headerClusterBits(head);
  if (head.length < 2 ** clusterBits) throw E.headerTooShort();
  const cs = 2 ** clusterBits;
  const version = head.readUInt32BE(4);
  const v3 = version === 3;
  const headerLength = v3 ? head.readUInt32BE(100) : V2_HEADER_LENGTH;
  if (v3 && headerLength < V3_MIN_HEADER_LENGTH) throw E.headerTooShort();
  if (headerLength > cs) throw E.headerExceedsCluster();

  const h: Qcow2Header = {
    version: v3 ? 3 : 2,
    backingFileOffset: u64(head, 8),
    backingFileSize: head.readUInt32BE(16),
    clusterBits,
    size: u64(head, 24),
    cryptMethod: head.readUInt32BE(32),
    l1Size: head.readUInt32BE(36),
    l1TableOffset: u64(head, 40),
    refcountTableOffset: u64(head, 48),
    refcountTableClusters: head.readUInt32BE(56),
    nbSnapshots: head.readUInt32BE(60),
    snapshotsOffset: u64(head, 64),
    incompatible: v3 ? head.readBigUInt64BE(72) : 0n,
    compatible: v3 ? head.readBigUInt64BE(80) : 0n,
    autoclear: v3 ? head.readBigUInt64BE(88) : 0n,
    refcountOrder: v3 ? head.readUInt32BE(96) : 4,
    headerLength,
    compressionType: v3 && headerLength > 104 ? head[104]! : 0,
    unknownHeaderFields: Buffer.from(
      headerLength > V3_WRITTEN_HEADER_LENGTH ? head.subarray(V3_WRITTEN_HEADER_LENGTH, headerLength) : [],
    ),
    backingFile: null,
    backingFormat: null,
    featureNames: [],
    bitmaps: null,
    hasCryptoExtension: false,
    hasDataFileExtension: false,
    unknownExtensions: [],
  };

  if (h.backingFileOffset > cs) throw E.backingOffset();
  readExtensions(head, h, h.backingFileOffset !== 0 ? h.backingFileOffset : cs);
  // like QEMU: without the autoclear bit the extension is stale and ignored (its clusters leak)
  if ((h.autoclear & AUTOCLEAR_BITMAPS) === 0n) h.bitmaps = null;

  const unknown = h.incompatible & ~INCOMPAT_KNOWN;
  if (unknown !== 0n) throw E.unsupportedFeatures(featureList(unknown, h.featureNames));
  if ((h.incompatible & INCOMPAT_CORRUPT) !== 0n && !readOnly) throw E.corruptReadWrite();
  const extL2 = (h.incompatible & INCOMPAT_EXTL2) !== 0n;
  if (extL2 && clusterBits < MIN_EXTL2_CLUSTER_BITS) throw E.subclusterSize(cs / SUBCLUSTERS);
  if (h.refcountOrder > 6) throw E.refcountOrder();
  if (h.compressionType !== 0 && (h.incompatible & INCOMPAT_COMPRESSION) === 0n) throw E.compressionBitMustBeSet();
  if (h.compressionType === 0 && (h.incompatible & INCOMPAT_COMPRESSION) !== 0n) throw E.compressionBitMustNotBeSet();
  if (h.compressionType > 1) throw E.compressionType(h.compressionType);
  if (h.cryptMethod > 2) throw E.encryptionMethod(h.cryptMethod);

  if (h.refcountTableClusters === 0) throw E.noRefcountTable();
  if (h.refcountTableClusters > MAX_REFTABLE_BYTES / cs) throw E.refcountTableTooLarge();
  if (!tableOffsetValid(h.refcountTableOffset, h.refcountTableClusters, cs, cs)) throw E.refcountTableOffset();
  if (h.nbSnapshots > MAX_SNAPSHOTS) throw E.snapshotOffset();
  if (!tableOffsetValid(h.snapshotsOffset, h.nbSnapshots, SNAPSHOT_HEADER_SIZE, cs)) throw E.snapshotOffset();

  if (h.l1Size > MAX_L1_BYTES / 8) throw E.l1TooLarge();
  if (!Number.isFinite(h.size)) throw E.imageTooBig();
  const l2Span = cs * (cs / (extL2 ? EXTL2_ENTRY_BYTES : 8));
  if (h.size / l2Span > 0x7fffffff) throw E.imageTooBig();
  if (h.l1Size < Math.ceil(h.size / l2Span)) throw E.l1TooSmall();
  if (!tableOffsetValid(h.l1TableOffset, h.l1Size, 8, cs)) throw E.l1Offset();

  if (h.backingFileOffset !== 0) {
    const len = h.backingFileSize;
    if (len > Math.min(MAX_BACKING_NAME, cs - h.backingFileOffset)) throw E.backingNameTooLong();
    h.backingFile = head.toString('utf8', h.backingFileOffset, h.backingFileOffset + len);
  }
  return h;
}

function readExtensions(head: Buffer, h: Qcow2Header, end: number): void {
  let off = h.headerLength;
  while (off < end) {
    if (off + 8 > end || off + 8 > head.length) throw E.extensionTooLarge();
    const type = head.readUInt32BE(off);
    const len = head.readUInt32BE(off + 4);
    off += 8;
    if (len > end - off || off + len > head.length) throw E.extensionTooLarge();
    const data = head.subarray(off, off + len);
    switch (type) {
      case EXT_END:
        return;
      case EXT_BACKING_FORMAT:
        if (len > MAX_BACKING_FORMAT) throw E.backingFormatTooLong(len);
        h.backingFormat = data.toString('utf8');
        break;
      case EXT_FEATURE_TABLE:
        for (let i = 0; i + FEATURE_ENTRY_SIZE <= len; i += FEATURE_ENTRY_SIZE) {
          const raw = data.subarray(i + 2, i + FEATURE_ENTRY_SIZE);
          const nul = raw.indexOf(0);
          h.featureNames.push({
            type: data[i]!,
            bit: data[i + 1]!,
            name: raw.toString('utf8', 0, nul < 0 ? raw.length : nul),
          });
        }
        break;
      case EXT_BITMAPS:
        if (len !== BITMAPS_EXT_SIZE) throw E.corrupt('bitmaps_ext: Invalid extension length');
        h.bitmaps = {
          nbBitmaps: data.readUInt32BE(0),
          directorySize: u64(data, 8),
          directoryOffset: u64(data, 16),
        };
        break;
      case EXT_CRYPTO:
        h.hasCryptoExtension = true;
        break;
      case EXT_DATA_FILE:
        h.hasDataFileExtension = true;
        break;
      default:
        h.unknownExtensions.push({ type, data: Buffer.from(data) });
    }
    off += (len + 7) & ~7;
  }
}

export function lazyRefcounts(h: Qcow2Header): boolean {
  return (h.compatible & COMPAT_LAZY_REFCOUNTS) !== 0n;
}
