/**
 * Guest -> host mapping of a byte range (docs/qcow2-format.md §5, §8):
 * walks the L1 and L2 tables and returns extents, adjacent clusters merged
 * when they share a kind (and, for data, a contiguous host range), so that a
 * large request becomes a few file requests.
 */
import { classify, compressedRange, entryCopied, entryOffset, Kind, type CompressedRange } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import { bitmapInvalid, readBitmap, runLength, SUBCLUSTERS, subclusterKind } from './subclusters.js';

export interface Extent {
  /** guest byte offset */
  guest: number;
  length: number;
  kind: Kind;
  /** host byte offset matching `guest` (Normal, ZeroAlloc), else 0 */
  host: number;
  /** COPIED flag of the entries (Normal, ZeroAlloc) */
  copied: boolean;
  /** the compressed stream (Compressed; one extent per cluster) */
  comp?: CompressedRange;
}

/** Host offset of guest cluster `gc` inside extent `e` (Normal, ZeroAlloc). */
export function hostOfCluster(e: Extent, gc: number, cs: number): number {
  return e.host - (e.guest % cs) + (gc - Math.floor(e.guest / cs)) * cs;
}

function canMerge(last: Extent, kind: Kind, host: number, copied: boolean): boolean {
  if (last.kind !== kind) return false;
  if (kind === Kind.Compressed) return false;
  if (kind === Kind.Normal || kind === Kind.ZeroAlloc) {
    return last.copied === copied && last.host + last.length === host;
  }
  return true;
}

/** `forWrite` only words a corruption report as QEMU's write path does. */
export async function mapExtents(img: Qcow2Image, offset: number, length: number, forWrite = false): Promise<Extent[]> {
  const cs = img.cs;
  const per = img.l2Entries;
  const out: Extent[] = [];
  const end = offset + length;
  let pos = offset;
  while (pos < end) {
    const gc = Math.floor(pos / cs);
    const l1Index = Math.floor(gc / per);
    const tableEnd = Math.min(end, (l1Index + 1) * per * cs);
    const l2Off = img.l1.l2Offset(l1Index);
    if (l2Off === 0) {
      push(out, pos, tableEnd - pos, Kind.Unallocated, 0, false);
      pos = tableEnd;
      continue;
    }
    const got = img.l2Table(l2Off);
    const table = got instanceof Buffer ? got : await got;
    while (pos < tableEnd) {
      const c = Math.floor(pos / cs);
      const index = c % per;
      const clusterEnd = Math.min(tableEnd, (c + 1) * cs);
      const at = index * img.l2EntryBytes;
      const kind = classify(table, at, img.zeroBit);
      let base = 0;
      let copied = false;
      if (kind === Kind.Normal || kind === Kind.ZeroAlloc) {
        base = entryOffset(table, at);
        if (base % cs !== 0) await img.markCorrupt(E.dataUnaligned(base, l2Off, index));
        copied = entryCopied(table, at);
      }
      if (kind === Kind.Compressed) {
        const comp = compressedRange(table, at, img.clusterBits);
        out.push({ guest: pos, length: clusterEnd - pos, kind, host: 0, copied: false, comp });
      } else if (img.extL2) {
        const b = readBitmap(table, at);
        if (bitmapInvalid(kind, b)) await img.markCorrupt(E.invalidEntry(l2Off, index, !forWrite));
        const scs = cs / SUBCLUSTERS;
        while (pos < clusterEnd) {
          const sc = Math.floor((pos % cs) / scs);
          const n = runLength(kind, b, sc);
          const runEnd = Math.min(clusterEnd, c * cs + (sc + n) * scs);
          const sk = subclusterKind(kind, b, sc);
          const onHost = sk === Kind.Normal || sk === Kind.ZeroAlloc;
          push(out, pos, runEnd - pos, sk, onHost ? base + (pos - c * cs) : 0, onHost && copied);
          pos = runEnd;
        }
      } else {
        push(out, pos, clusterEnd - pos, kind, base === 0 ? 0 : base + (pos % cs), copied);
      }
      pos = clusterEnd;
    }
  }
  return out;
}

function push(out: Extent[], guest: number, length: number, kind: Kind, host: number, copied: boolean): void {
  const last = out[out.length - 1];
  if (last !== undefined && canMerge(last, kind, host, copied)) last.length += length;
  else out.push({ guest, length, kind, host, copied });
}
