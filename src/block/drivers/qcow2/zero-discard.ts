/**
 * writeZeroes and discard (docs/qcow2-format.md §9.5). On v3 images, whole
 * clusters get the zero flag (keeping their host cluster unless unmapping is
 * allowed); partial clusters get zero data through the normal write path.
 * v2 has no zero flag, so zeroes are written as data. Discard drops whole
 * clusters only; on v3 a discarded cluster reads as zeroes afterwards, as in
 * QEMU. Images with subclusters: zero-subclusters.ts.
 */
import type { ZeroFlags } from '../driver.js';
import { ensureL2 } from './alloc-plan.js';
import { mapExtents } from './cluster-map.js';
import { compressedClusters } from './compressed.js';
import { classify, compressedRange, entryCopied, entryOffset, Kind, setEntry } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import { writeRange } from './write.js';
import { discardEntry, zeroSubclusters } from './zero-subclusters.js';

/** Largest zero buffer written at once where zeroes must be written as data. */
const ZERO_CHUNK = 1024 * 1024;

/** Changes one L2 entry; `c` is its guest cluster. */
export type EntryRewrite = (table: Buffer, pos: number, kind: Kind, c: number) => void;

export async function writeZeroesImage(img: Qcow2Image, offset: number, length: number, flags: ZeroFlags): Promise<void> {
  await img.ensureWritable();
  if (img.extL2) return zeroSubclusters(img, offset, length, flags);
  if (!img.zeroFlag) {
    if (flags.noFallback) throw E.zeroNeedsFallback();
    return zeroData(img, offset, length);
  }
  const fallback = flags.noFallback !== true;
  const cs = img.cs;
  const end = offset + length;
  const a = Math.ceil(offset / cs) * cs;
  // the last cluster counts as covered when the range reaches the end of the image
  const b = end >= img.size ? Math.ceil(end / cs) * cs : Math.floor(end / cs) * cs;
  if (a >= b) return zeroUnlessZero(img, offset, length, fallback);
  if (offset < a) await zeroUnlessZero(img, offset, a - offset, fallback);
  if (b < end) await zeroUnlessZero(img, b, end - b, fallback);
  const unmap = flags.mayUnmap === true;
  await rewriteEntries(img, a, b, img.backing() !== null, (t, pos, kind) => {
    switch (kind) {
      case Kind.Unallocated:
        setEntry(t, pos, 0, false, true);
        return;
      case Kind.ZeroPlain:
        return;
      case Kind.ZeroAlloc:
      case Kind.Normal:
        if (unmap) {
          img.frees.queue(entryOffset(t, pos) / cs, 1);
          setEntry(t, pos, 0, false, true);
        } else {
          setEntry(t, pos, entryOffset(t, pos), entryCopied(t, pos), true);
        }
        return;
      case Kind.Compressed: {
        const r = compressedClusters(compressedRange(t, pos, img.clusterBits), cs);
        img.frees.queue(r.start, r.count);
        setEntry(t, pos, 0, false, true);
      }
    }
  });
}

export async function discardImage(img: Qcow2Image, offset: number, length: number): Promise<void> {
  await img.ensureWritable();
  const backed = img.backing() !== null;
  // v2 cannot express "reads as zero", so stale backing data would show through: QEMU refuses
  if (!img.zeroFlag && backed) return;
  const cs = img.cs;
  const end = offset + length;
  const a = Math.ceil(offset / cs) * cs;
  const b = end >= img.size ? Math.ceil(end / cs) * cs : Math.floor(end / cs) * cs;
  if (a >= b) return;
  // with a backing file, clusters without an L2 table must get one to read as zeroes
  await rewriteEntries(img, a, b, backed, (t, pos, kind) => {
    if (img.extL2) return discardEntry(img, t, pos, kind, backed);
    const allocated = kind === Kind.Normal || kind === Kind.ZeroAlloc || kind === Kind.Compressed;
    if (kind === Kind.Compressed) {
      const r = compressedClusters(compressedRange(t, pos, img.clusterBits), cs);
      img.frees.queue(r.start, r.count);
    } else if (allocated) {
      img.frees.queue(entryOffset(t, pos) / cs, 1);
    }
    const zero = img.zeroFlag && (backed || allocated);
    if (allocated || kind === Kind.ZeroPlain || zero) setEntry(t, pos, 0, false, zero);
  });
}

/**
 * Applies `fn` to the L2 entries of guest clusters [a, b) (byte offsets,
 * cluster aligned) with the mutex held, after in-flight allocations there
 * finished. Missing L2 tables are created only if `createTables`.
 */
export async function rewriteEntries(img: Qcow2Image, a: number, b: number, createTables: boolean, fn: EntryRewrite): Promise<void> {
  const cs = img.cs;
  const per = img.l2Entries;
  const first = a / cs;
  const last = Math.min(b / cs, img.l1.size * per) - 1;
  for (;;) {
    let wait: Promise<void> | undefined;
    const release = await img.lock.lock();
    try {
      wait = img.inflight.overlapping(first, last);
      if (wait === undefined) {
        for (let c = first; c <= last; ) {
          const l1Index = Math.floor(c / per);
          const tableLast = Math.min(last, (l1Index + 1) * per - 1);
          let l2Off = img.l1.l2Offset(l1Index);
          // a table shared with a snapshot is copied before it changes
          if (l2Off !== 0 || createTables) l2Off = await ensureL2(img, l1Index);
          if (l2Off !== 0) {
            const t = await img.l2.getForUpdate(l2Off);
            for (let i = c; i <= tableLast; i++) {
              const pos = (i % per) * img.l2EntryBytes;
              fn(t, pos, classify(t, pos, img.zeroBit), i);
            }
            // a huge range must not pile up dirty tables without bound
            await img.maybeWriteback();
          }
          c = tableLast + 1;
        }
      }
    } finally {
      release();
    }
    if (wait === undefined) return;
    await wait;
  }
}

/** Zero data for a partial cluster, skipped when it already reads as zeroes. */
async function zeroUnlessZero(img: Qcow2Image, offset: number, length: number, fallback: boolean): Promise<void> {
  const extents = await mapExtents(img, offset, length);
  const zero = extents.every(
    (e) => e.kind === Kind.ZeroPlain || e.kind === Kind.ZeroAlloc || (e.kind === Kind.Unallocated && img.backing() === null),
  );
  if (zero) return;
  if (!fallback) throw E.zeroNeedsFallback();
  await zeroData(img, offset, length);
}

export async function zeroData(img: Qcow2Image, offset: number, length: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(length, ZERO_CHUNK));
  const epoch = img.frees.begin();
  try {
    for (let pos = offset; pos < offset + length; pos += zeros.length) {
      const n = Math.min(zeros.length, offset + length - pos);
      await writeRange(img, pos, zeros.subarray(0, n));
    }
  } finally {
    img.frees.end(epoch);
  }
}
