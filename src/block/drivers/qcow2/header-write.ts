/**
 * Serializing cluster 0 the way QEMU 7.2's header writer lays it out
 * (docs/qcow2-format.md §4): fixed header, preserved unknown header fields,
 * backing format, feature name table (v3 with clusters above 4 KiB), bitmaps,
 * preserved unknown extensions, end marker, then the backing file name.
 */
import {
  EXT_BACKING_FORMAT, EXT_BITMAPS, EXT_FEATURE_TABLE, FEATURE_ENTRY_SIZE, MAX_BACKING_FORMAT, MAX_BACKING_NAME,
  QCOW2_MAGIC, V2_HEADER_LENGTH, V3_WRITTEN_HEADER_LENGTH,
} from './constants.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Header } from './header.js';

/** QEMU 7.2's feature name table: [type, bit, name]. */
export const FEATURE_TABLE: readonly (readonly [number, number, string])[] = [
  [0, 0, 'dirty bit'],
  [0, 1, 'corrupt bit'],
  [0, 2, 'external data file'],
  [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'],
  [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'],
  [2, 1, 'raw external data'],
];

/** QEMU writes the feature table only when cluster 0 has room to spare. */
const FEATURE_TABLE_MIN_CLUSTER = 8192;

class ClusterWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  ext(type: number, data: Buffer): void {
    const padded = (data.length + 7) & ~7;
    if (this.pos + 8 + padded > this.buf.length) throw E.noSpaceInHeader();
    this.buf.writeUInt32BE(type, this.pos);
    this.buf.writeUInt32BE(data.length, this.pos + 4);
    data.copy(this.buf, this.pos + 8);
    this.pos += 8 + padded;
  }
}

function featureTable(): Buffer {
  const buf = Buffer.alloc(FEATURE_TABLE.length * FEATURE_ENTRY_SIZE);
  FEATURE_TABLE.forEach(([type, bit, name], i) => {
    buf[i * FEATURE_ENTRY_SIZE] = type;
    buf[i * FEATURE_ENTRY_SIZE + 1] = bit;
    buf.write(name, i * FEATURE_ENTRY_SIZE + 2, 'latin1');
  });
  return buf;
}

/**
 * Builds cluster 0 for header `h`; `h.backingFile`/`h.backingFormat` decide the
 * backing part. Written into the start of `into` (zero-filled) when given.
 */
export function buildHeaderCluster(h: Qcow2Header, into?: Buffer): Buffer {
  const cs = 2 ** h.clusterBits;
  const buf = into ? into.subarray(0, cs) : Buffer.alloc(cs);
  const v3 = h.version >= 3;
  const name = h.backingFile === null ? null : Buffer.from(h.backingFile, 'utf8');
  if (name !== null && name.length > MAX_BACKING_NAME) throw E.invalidArgument();
  if (h.backingFormat !== null && h.backingFormat.length > MAX_BACKING_FORMAT) throw E.invalidArgument();

  const headerLength = v3 ? V3_WRITTEN_HEADER_LENGTH + h.unknownHeaderFields.length : V2_HEADER_LENGTH;
  buf.writeUInt32BE(QCOW2_MAGIC, 0);
  buf.writeUInt32BE(h.version, 4);
  buf.writeUInt32BE(h.clusterBits, 20);
  buf.writeBigUInt64BE(BigInt(h.size), 24);
  buf.writeUInt32BE(h.cryptMethod, 32);
  buf.writeUInt32BE(h.l1Size, 36);
  buf.writeBigUInt64BE(BigInt(h.l1TableOffset), 40);
  buf.writeBigUInt64BE(BigInt(h.refcountTableOffset), 48);
  buf.writeUInt32BE(h.refcountTableClusters, 56);
  buf.writeUInt32BE(h.nbSnapshots, 60);
  buf.writeBigUInt64BE(BigInt(h.snapshotsOffset), 64);
  if (v3) {
    buf.writeBigUInt64BE(h.incompatible, 72);
    buf.writeBigUInt64BE(h.compatible, 80);
    buf.writeBigUInt64BE(h.autoclear, 88);
    buf.writeUInt32BE(h.refcountOrder, 96);
    buf.writeUInt32BE(headerLength, 100);
    buf[104] = h.compressionType;
    h.unknownHeaderFields.copy(buf, V3_WRITTEN_HEADER_LENGTH);
  }

  const w = new ClusterWriter(buf);
  w.pos = headerLength;
  if (name !== null && h.backingFormat !== null) w.ext(EXT_BACKING_FORMAT, Buffer.from(h.backingFormat, 'latin1'));
  if (v3 && cs >= FEATURE_TABLE_MIN_CLUSTER) w.ext(EXT_FEATURE_TABLE, featureTable());
  if (h.bitmaps !== null) {
    const b = Buffer.alloc(24);
    b.writeUInt32BE(h.bitmaps.nbBitmaps, 0);
    b.writeBigUInt64BE(BigInt(h.bitmaps.directorySize), 8);
    b.writeBigUInt64BE(BigInt(h.bitmaps.directoryOffset), 16);
    w.ext(EXT_BITMAPS, b);
  }
  for (const x of h.unknownExtensions) w.ext(x.type, x.data);
  w.ext(0, Buffer.alloc(0));

  if (name !== null) {
    if (w.pos + name.length > cs) throw E.noSpaceInHeader();
    name.copy(buf, w.pos);
    buf.writeBigUInt64BE(BigInt(w.pos), 8);
    buf.writeUInt32BE(name.length, 16);
  }
  return buf;
}
