/**
 * Allocation plans for images with extended L2 entries (subclusters.ts):
 * which clusters a write may go to in place, and for the others the host
 * cluster and the subclusters that must be written along with the data.
 */
import type { AllocCluster, PlanParts } from './alloc-plan.js';
import type { Extent } from './cluster-map.js';
import { classify, compressedRange, entryCopied, entryOffset, Kind, type CompressedRange } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import {
  bitmapInvalid, cowBounds, rangeMask, readBitmap, SUBCLUSTERS, type SubclusterBitmap,
} from './subclusters.js';

/**
 * With subclusters, per cluster (QEMU's handle_copied / handle_alloc): a
 * COPIED cluster whose touched subclusters are all allocated is written in
 * place; a COPIED cluster with some of them unallocated or zero keeps its
 * host cluster and only completes those subclusters; any other gets a new
 * host cluster.
 */
export async function planSubclusters(img: Qcow2Image, offset: number, length: number): Promise<PlanParts> {
  const cs = img.cs;
  const per = img.l2Entries;
  const scs = cs / SUBCLUSTERS;
  const inPlace: Extent[] = [];
  const allocs: AllocCluster[] = [];
  const end = offset + length;
  for (let gc = Math.floor(offset / cs); gc * cs < end; gc++) {
    const ws = Math.max(offset, gc * cs) - gc * cs;
    const we = Math.min(end, (gc + 1) * cs) - gc * cs;
    const l1Index = Math.floor(gc / per);
    const l2Off = img.l1.l2Offset(l1Index);
    let desc = Kind.Unallocated;
    let base = 0;
    let copied = false;
    let comp: CompressedRange | undefined;
    let bitmap: SubclusterBitmap = { alloc: 0, zero: 0 };
    if (l2Off !== 0) {
      const got = img.l2Table(l2Off);
      const table = got instanceof Buffer ? got : await got;
      const at = (gc % per) * img.l2EntryBytes;
      desc = classify(table, at, false);
      if (desc === Kind.Normal) {
        base = entryOffset(table, at);
        copied = entryCopied(table, at);
      } else if (desc === Kind.Compressed) {
        comp = compressedRange(table, at, img.clusterBits);
      }
      bitmap = readBitmap(table, at);
      if (bitmapInvalid(desc, bitmap)) await img.markCorrupt(E.invalidEntry(l2Off, gc % per, false));
    }
    const keep = desc === Kind.Normal && copied;
    const touched = rangeMask(Math.floor(ws / scs), Math.floor((we - 1) / scs) + 1);
    if (keep && ((bitmap.alloc & touched) >>> 0) === touched) {
      inPlace.push({ guest: gc * cs + ws, length: we - ws, kind: Kind.Normal, host: base + ws, copied: true });
      continue;
    }
    const old: Extent = { guest: gc * cs, length: cs, kind: desc, host: base, copied };
    if (comp !== undefined) old.comp = comp;
    const { from, to } = cowBounds(desc, bitmap, keep, ws, we, cs);
    allocs.push({ gc, old, host: keep ? base : 0, reused: keep, fresh: false, from, to });
  }
  return { inPlace, allocs };
}
