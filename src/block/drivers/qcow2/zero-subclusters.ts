/**
 * writeZeroes and discard on images with extended L2 entries, as QEMU 7.2
 * does them (qcow2_co_pwrite_zeroes, qcow2_subcluster_zeroize,
 * qcow2_cluster_discard):
 *  - zeroes go by subcluster: whole clusters get every zero bit (their host
 *    cluster is kept unless unmapping is allowed; a compressed one is always
 *    dropped), whole subclusters of a partly covered cluster get their zero
 *    bit and lose their allocated bit; a partly covered subcluster becomes
 *    zero as a whole if it is not allocated and the rest of it reads as
 *    zeroes already, and otherwise gets zero data written;
 *  - discard goes by whole clusters only: the host cluster is released and,
 *    where something could show through (allocated before, or a backing
 *    file), every subcluster reads as zeroes.
 */
import type { ZeroFlags } from '../driver.js';
import { mapExtents } from './cluster-map.js';
import { compressedClusters } from './compressed.js';
import { compressedRange, entryOffset, Kind, setEntry } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import { ALL_SUBCLUSTERS, rangeMask, readBitmap, SUBCLUSTERS, writeBitmap } from './subclusters.js';
import { rewriteEntries, zeroData } from './zero-discard.js';

const ALL_ZERO = { alloc: 0, zero: ALL_SUBCLUSTERS };

/** Queues the host clusters an entry references. */
function dropHost(img: Qcow2Image, t: Buffer, pos: number, kind: Kind): void {
  if (kind === Kind.Normal) img.frees.queue(entryOffset(t, pos) / img.cs, 1);
  else if (kind === Kind.Compressed) {
    const r = compressedClusters(compressedRange(t, pos, img.clusterBits), img.cs);
    img.frees.queue(r.start, r.count);
  }
}

/** One entry of a whole-cluster discard (discard_in_l2_slice with full_discard off). */
export function discardEntry(img: Qcow2Image, t: Buffer, pos: number, kind: Kind, backed: boolean): void {
  const allocated = kind === Kind.Normal || kind === Kind.Compressed;
  if (!allocated && !backed) return;
  dropHost(img, t, pos, kind);
  setEntry(t, pos, 0, false);
  writeBitmap(t, pos, ALL_ZERO);
}

/**
 * Cuts the range as QEMU's block layer does (alignment: one subcluster): an
 * unaligned head inside one subcluster, the aligned middle, and the rest
 * inside the last subcluster. That rest is zeroized as it is when it ends
 * the image (the driver sees no unaligned tail there).
 */
export async function zeroSubclusters(img: Qcow2Image, offset: number, length: number, flags: ZeroFlags): Promise<void> {
  const scs = img.cs / SUBCLUSTERS;
  const end = offset + length;
  const a = Math.ceil(offset / scs) * scs;
  const b = Math.floor(end / scs) * scs;
  if (offset < a) await zeroPartial(img, offset, Math.min(end, a), flags);
  if (a < b) await zeroizeRange(img, a, b, flags);
  if (b < end && b >= a) {
    if (end >= img.size) await zeroizeRange(img, b, end, flags);
    else await zeroPartial(img, b, end, flags);
  }
}

/**
 * [lo, hi) inside one subcluster (qcow2_co_pwrite_zeroes with a head or
 * tail): the whole subcluster gets its zero bit if it is not allocated and
 * the rest of it reads as zeroes already; otherwise zero data is written
 * (QEMU's fallback after ENOTSUP).
 */
async function zeroPartial(img: Qcow2Image, lo: number, hi: number, flags: ZeroFlags): Promise<void> {
  const scs = img.cs / SUBCLUSTERS;
  const start = Math.floor(lo / scs) * scs;
  const end = Math.min(start + scs, img.size);
  const extents = await mapExtents(img, start, end - start);
  const kind = extents[0]!.kind;
  const notAllocated = kind === Kind.ZeroPlain || kind === Kind.ZeroAlloc || kind === Kind.Unallocated;
  // the rest of the subcluster: before the range, and after it unless the range ends the image
  const restIsZero = async (): Promise<boolean> =>
    kind !== Kind.Unallocated || ((await backingReadsZero(img, start, lo)) && (hi >= img.size || (await backingReadsZero(img, hi, end))));
  if (notAllocated && (await restIsZero())) return zeroizeRange(img, start, end, flags);
  if (flags.noFallback) throw E.zeroNeedsFallback();
  await zeroData(img, lo, hi - lo);
}

/** Guest bytes [from, to) of an unallocated range read as zeroes from the backing chain (QEMU's is_zero). */
async function backingReadsZero(img: Qcow2Image, from: number, to: number): Promise<boolean> {
  const backing = img.backing();
  if (backing === null) return true;
  const end = Math.min(to, backing.length());
  for (let pos = from; pos < end; ) {
    const s = await backing.blockStatus(pos, end - pos);
    if (s.status === 'data' || s.length <= 0) return false;
    pos += s.length;
  }
  return true;
}

/** Subcluster-aligned [a, b): zero bits, as qcow2_subcluster_zeroize sets them. */
async function zeroizeRange(img: Qcow2Image, a: number, b: number, flags: ZeroFlags): Promise<void> {
  const cs = img.cs;
  const scs = cs / SUBCLUSTERS;
  const unmap = flags.mayUnmap === true;
  // parts of compressed clusters cannot get zero bits: written as data afterwards
  const asData: [number, number][] = [];
  const first = Math.floor(a / cs) * cs;
  const last = Math.ceil(b / cs) * cs;
  await rewriteEntries(img, first, last, true, (t, pos, kind, c) => {
    const from = Math.max(a, c * cs) - c * cs;
    const to = Math.min(b, (c + 1) * cs) - c * cs;
    const whole = from === 0 && (to === cs || b >= img.size);
    if (whole) {
      const drop = kind === Kind.Compressed || (unmap && kind === Kind.Normal);
      if (drop) {
        dropHost(img, t, pos, kind);
        setEntry(t, pos, 0, false);
      }
      writeBitmap(t, pos, ALL_ZERO);
      return;
    }
    if (kind === Kind.Compressed) {
      asData.push([c * cs + from, c * cs + to]);
      return;
    }
    const m = rangeMask(from / scs, Math.ceil(to / scs));
    const bm = readBitmap(t, pos);
    writeBitmap(t, pos, { alloc: (bm.alloc & ~m) >>> 0, zero: (bm.zero | m) >>> 0 });
  });
  for (const [lo, hi] of asData) {
    if (flags.noFallback) throw E.zeroNeedsFallback();
    await zeroData(img, lo, Math.min(hi, img.size) - lo);
  }
}
