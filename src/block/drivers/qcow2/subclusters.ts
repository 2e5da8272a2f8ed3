/**
 * Extended L2 entries (incompatible bit 4; docs/qcow2-format.md §5): each
 * entry is the 8-byte cluster descriptor (bit 0 unused) followed by a 64-bit
 * bitmap whose low half says "subcluster allocated" and whose high half says
 * "subcluster reads as zeroes", 32 subclusters per cluster. The halves are
 * handled as separate 32-bit words (bit i = subcluster i).
 */
import { Kind } from './entries.js';

export const SUBCLUSTERS = 32;
/** Subclusters must be at least 512 bytes: extended L2 needs 16 KiB clusters or more. */
export const MIN_EXTL2_CLUSTER_BITS = 14;
/** Bytes of an extended L2 entry. */
export const EXTL2_ENTRY_BYTES = 16;
export const ALL_SUBCLUSTERS = 0xffffffff;

export interface SubclusterBitmap {
  /** bit i: subcluster i is allocated (reads from the host cluster) */
  alloc: number;
  /** bit i: subcluster i reads as zeroes */
  zero: number;
}

export function readBitmap(buf: Buffer, pos: number): SubclusterBitmap {
  return { zero: buf.readUInt32BE(pos + 8), alloc: buf.readUInt32BE(pos + 12) };
}

export function writeBitmap(buf: Buffer, pos: number, b: SubclusterBitmap): void {
  buf.writeUInt32BE(b.zero >>> 0, pos + 8);
  buf.writeUInt32BE(b.alloc >>> 0, pos + 12);
}

/** Bits [from, to) of a 32-bit half. */
export function rangeMask(from: number, to: number): number {
  if (to <= from) return 0;
  const upper = to >= 32 ? ALL_SUBCLUSTERS : ((1 << to) >>> 0) - 1;
  const lower = from <= 0 ? 0 : ((1 << from) >>> 0) - 1;
  return (upper & ~lower) >>> 0;
}

/** Count of trailing zero bits (32 for 0). */
export function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

/**
 * QEMU's rule for an invalid bitmap (QCOW2_SUBCLUSTER_INVALID): a subcluster
 * both allocated and zero, or an allocated subcluster in an entry without a
 * host cluster. Compressed entries carry no bitmap semantics.
 */
export function bitmapInvalid(desc: Kind, b: SubclusterBitmap): boolean {
  if (desc === Kind.Normal) return (b.alloc & b.zero) !== 0;
  if (desc === Kind.Unallocated) return b.alloc !== 0;
  return false;
}

/**
 * What subcluster `sc` reads as, in the kinds the rest of the driver uses:
 * a subcluster of a host cluster that is neither allocated nor zero reads
 * through to the backing file, like an unallocated cluster.
 */
export function subclusterKind(desc: Kind, b: SubclusterBitmap, sc: number): Kind {
  if (desc === Kind.Compressed) return Kind.Compressed;
  const bit = (1 << sc) >>> 0;
  const hasHost = desc === Kind.Normal;
  if ((b.zero & bit) !== 0) return hasHost ? Kind.ZeroAlloc : Kind.ZeroPlain;
  if (hasHost && (b.alloc & bit) !== 0) return Kind.Normal;
  return Kind.Unallocated;
}

/** Subclusters from `sc` on (at most up to 32) that read as the same kind as `sc`. */
export function runLength(desc: Kind, b: SubclusterBitmap, sc: number): number {
  const kind = subclusterKind(desc, b, sc);
  let n = 1;
  while (sc + n < SUBCLUSTERS && subclusterKind(desc, b, sc + n) === kind) n++;
  return n;
}

/**
 * The part of a cluster an allocating write covers, from QEMU's
 * calculate_l2_meta: [from, to) byte offsets inside the cluster, holding the
 * guest data [ws, we) plus copy-on-write of whatever must come along.
 *  - `keep`: the cluster stays where it is (COPIED): only subclusters the
 *    write touches partly and that are not allocated yet are completed;
 *  - a new host cluster for a compressed one: the whole cluster;
 *  - a new host cluster for a shared one: from its first to its last
 *    allocated subcluster at least, so nothing allocated is left behind;
 *  - a new host cluster where there was none: the touched subclusters.
 */
export function cowBounds(
  desc: Kind, b: SubclusterBitmap, keep: boolean, ws: number, we: number, cs: number,
): { from: number; to: number } {
  const scs = cs / SUBCLUSTERS;
  const first = Math.floor(ws / scs);
  const last = Math.floor((we - 1) / scs);
  const allocatedAt = (sc: number): boolean => desc === Kind.Normal && (b.alloc & ((1 << sc) >>> 0)) !== 0 && (b.zero & ((1 << sc) >>> 0)) === 0;
  if (keep) {
    return {
      from: allocatedAt(first) ? ws : first * scs,
      to: allocatedAt(last) ? we : (last + 1) * scs,
    };
  }
  if (desc === Kind.Compressed) return { from: 0, to: cs };
  if (desc === Kind.Normal) {
    const lowest = ctz32(b.alloc);
    const highest = b.alloc === 0 ? -1 : 31 - Math.clz32(b.alloc);
    return { from: Math.min(first, lowest) * scs, to: (Math.max(last, highest) + 1) * scs };
  }
  return { from: first * scs, to: (last + 1) * scs };
}

/** The bitmap after the bytes [from, to) of the cluster were written: allocated, not zero. */
export function markWritten(b: SubclusterBitmap, from: number, to: number, cs: number): SubclusterBitmap {
  const scs = cs / SUBCLUSTERS;
  const m = rangeMask(Math.floor(from / scs), Math.floor((to - 1) / scs) + 1);
  return { alloc: (b.alloc | m) >>> 0, zero: (b.zero & ~m) >>> 0 };
}
