/**
 * Refcount walks over L1 tables (QEMU's qcow2_update_snapshot_refcount).
 * A cluster's refcount counts one reference per L1 table that reaches it:
 * an L2 table shared by two L1 tables gives each of its data clusters two
 * references, which is what `qemu-img check` recomputes. So a new snapshot
 * adds one to every L2 table and every data cluster the active L1 reaches,
 * and deleting one takes one from everything its own L1 reaches.
 * COPIED flags are kept on the active tables only (check looks nowhere else).
 * Call with the metadata mutex held and no guest write in flight.
 */
import { compressedClusters } from './compressed.js';
import { HI_COPIED } from './constants.js';
import { classify, compressedRange, entryCopied, entryOffset, Kind } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';

/** Clusters an L2 entry holds a reference to (none for unallocated and plain zero entries). */
function referenced(img: Qcow2Image, table: Buffer, pos: number): { start: number; count: number } | null {
  switch (classify(table, pos, img.zeroBit)) {
    case Kind.Normal:
    case Kind.ZeroAlloc:
      return { start: entryOffset(table, pos) / img.cs, count: 1 };
    case Kind.Compressed:
      return compressedClusters(compressedRange(table, pos, img.clusterBits), img.cs);
    default:
      return null;
  }
}

async function tableAt(img: Qcow2Image, l2Off: number, l1Index: number): Promise<Buffer> {
  if (l2Off % img.cs !== 0) await img.markCorrupt(E.l2Unaligned(l2Off, l1Index));
  const got = img.l2Table(l2Off);
  return got instanceof Buffer ? got : await got;
}

/** Refuses before any change if a reference more would overflow a refcount (QEMU: EINVAL). */
async function checkHeadroom(img: Qcow2Image): Promise<void> {
  const extra = new Map<number, number>();
  const add = (c: number): void => {
    extra.set(c, (extra.get(c) ?? 0) + 1);
  };
  for (let i = 0; i < img.l1.size; i++) {
    const l2Off = img.l1.l2Offset(i);
    if (l2Off === 0) continue;
    const table = await tableAt(img, l2Off, i);
    for (let pos = 0; pos < img.cs; pos += img.l2EntryBytes) {
      const r = referenced(img, table, pos);
      if (r !== null) for (let c = r.start; c < r.start + r.count; c++) add(c);
    }
    add(l2Off / img.cs);
  }
  for (const [c, n] of extra) if ((await img.refs.get(c)) + n > img.refs.max) throw E.invalidArgument();
}

/**
 * Walks the active L1 table: with `addend` 1 (a snapshot now shares it all)
 * every reachable cluster gains a reference; with 0 only the COPIED flags
 * are brought in line with the refcounts (after a snapshot was deleted).
 */
export async function updateActiveRefs(img: Qcow2Image, addend: 0 | 1): Promise<void> {
  const cs = img.cs;
  const l1 = img.l1;
  if (addend !== 0) await checkHeadroom(img);
  for (let i = 0; i < l1.size; i++) {
    const l2Off = l1.l2Offset(i);
    if (l2Off === 0) continue;
    const table = await tableAt(img, l2Off, i);
    // entries whose COPIED flag must flip; applied below on the table as cached then
    const flips: [number, boolean][] = [];
    for (let pos = 0; pos < cs; pos += img.l2EntryBytes) {
      const r = referenced(img, table, pos);
      let copied = false;
      if (r !== null) {
        let rc = 0;
        for (let c = r.start; c < r.start + r.count; c++) {
          rc = addend !== 0 ? await img.refs.adjust(c, addend) : await img.refs.get(c);
        }
        // compressed entries never carry COPIED: their clusters are never written in place
        copied = rc === 1 && classify(table, pos, img.zeroBit) !== Kind.Compressed;
      }
      if (entryCopied(table, pos) !== copied) flips.push([pos, copied]);
    }
    if (flips.length > 0) {
      const t = await img.l2.getForUpdate(l2Off);
      for (const [pos, copied] of flips) {
        t.writeUInt32BE(((t.readUInt32BE(pos) & ~HI_COPIED) | (copied ? HI_COPIED : 0)) >>> 0, pos);
      }
    }
    const rc = addend !== 0 ? await img.refs.adjust(l2Off / cs, addend) : await img.refs.get(l2Off / cs);
    if (l1.copied(i) !== (rc === 1)) l1.put(i, l2Off, rc === 1);
  }
}

/**
 * Drops the references a deleted snapshot's L1 table held (the table itself
 * is released by the caller). Nothing on disk points at that L1 any more,
 * so clusters are released at once; freed L2 tables leave the cache.
 */
export async function releaseL1Refs(img: Qcow2Image, l1: Buffer, l1Size: number): Promise<void> {
  const cs = img.cs;
  for (let i = 0; i < l1Size; i++) {
    const l2Off = entryOffset(l1, i * 8);
    if (l2Off === 0) continue;
    const table = Buffer.from(await tableAt(img, l2Off, i));
    for (let pos = 0; pos < cs; pos += img.l2EntryBytes) {
      const r = referenced(img, table, pos);
      if (r !== null) await img.allocator.release(r.start, r.count);
    }
    await img.allocator.release(l2Off / cs, 1);
    if ((await img.refs.get(l2Off / cs)) === 0) img.l2.drop(l2Off);
  }
}
