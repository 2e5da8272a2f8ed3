/**
 * Allocation plans for writes into clusters that need new host clusters
 * (docs/qcow2-format.md §9): unallocated, zero, shared (COPIED clear) or
 * compressed clusters. Made and linked with the metadata mutex held; the
 * data is written in between, without it.
 */
import { hostOfCluster, mapExtents, type Extent } from './cluster-map.js';
import { compressedClusters } from './compressed.js';
import { Kind, setEntry } from './entries.js';
import type { Qcow2Image } from './image.js';
import type { InflightAllocations } from './inflight.js';
import { planSubclusters } from './subcluster-plan.js';
import { markWritten, readBitmap, writeBitmap } from './subclusters.js';

export interface AllocCluster {
  /** guest cluster index */
  gc: number;
  /** what the cluster was before: source of copy-on-write data, and what to free */
  old: Extent;
  /** new host cluster offset */
  host: number;
  /** a preallocated zero cluster owned by this L2 entry alone, written in place */
  reused: boolean;
  /** the host cluster starts at or past the end of the file: it has never held data */
  fresh: boolean;
  /**
   * Bytes [from, to) of the cluster that get written: the guest data plus its
   * copy-on-write. Whole clusters without subclusters; with them, only the
   * subclusters that must come along (subclusters.ts cowBounds).
   */
  from: number;
  to: number;
}

/** Guest clusters whose new host clusters are contiguous: written with one request. */
export interface HostRun {
  clusters: AllocCluster[];
}

export interface AllocPlan {
  /** clusters that turned out to be allocated after all: plain writes */
  inPlace: Extent[];
  allocs: AllocCluster[];
  runs: HostRun[];
  token: ReturnType<InflightAllocations['add']> | null;
}

/**
 * The L2 table for L1 entry `l1Index`, ready to be changed: an empty one is
 * created if there is none, and one shared with a snapshot (COPIED clear) is
 * copied first (QEMU's l2_allocate). The copy references the same clusters
 * from the same L1 table, so only the old table loses a reference, once the
 * L1 entry that moved away from it is durable.
 */
export async function ensureL2(img: Qcow2Image, l1Index: number): Promise<number> {
  const off = img.l1.l2Offset(l1Index);
  if (off !== 0 && img.l1.copied(l1Index)) return off;
  const old = off !== 0 ? Buffer.from(await img.l2.get(off)) : null;
  const run = await img.allocator.allocate(1);
  const l2Off = run.start * img.cs;
  const table = old ?? Buffer.alloc(img.cs);
  // l2_allocate() writes a new table at once, so the file covers it as QEMU's does (nothing on
  // disk points at it yet); the cached copy stays dirty for the entries about to change
  await img.file.write(l2Off, Buffer.from(table));
  img.l2.insertNew(l2Off, table);
  img.l1.set(l1Index, l2Off);
  if (off !== 0) img.frees.queue(off / img.cs, 1);
  return l2Off;
}

/** Call with the lock held and no in-flight allocation overlapping the range. */
export async function makePlan(img: Qcow2Image, offset: number, length: number): Promise<AllocPlan> {
  const cs = img.cs;
  const { inPlace, allocs } = img.extL2 ? await planSubclusters(img, offset, length) : await planClusters(img, offset, length);
  if (allocs.length === 0) return { inPlace, allocs, runs: [], token: null };

  const token = img.inflight.add(allocs[0]!.gc, allocs[allocs.length - 1]!.gc);
  try {
    await allocateHosts(img, allocs);
  } catch (err) {
    await releaseNew(img, allocs);
    img.inflight.remove(token);
    throw err;
  }
  return { inPlace, allocs, runs: groupRuns(allocs, cs), token };
}

export interface PlanParts {
  inPlace: Extent[];
  allocs: AllocCluster[];
}

async function planClusters(img: Qcow2Image, offset: number, length: number): Promise<PlanParts> {
  const cs = img.cs;
  const extents = await mapExtents(img, offset, length);
  const inPlace: Extent[] = [];
  const allocs: AllocCluster[] = [];
  for (const e of extents) {
    if (e.kind === Kind.Normal && e.copied) {
      inPlace.push(e);
      continue;
    }
    const last = Math.floor((e.guest + e.length - 1) / cs);
    for (let gc = Math.floor(e.guest / cs); gc <= last; gc++) {
      const reused = e.kind === Kind.ZeroAlloc && e.copied;
      allocs.push({ gc, old: e, host: reused ? hostOfCluster(e, gc, cs) : 0, reused, fresh: false, from: 0, to: cs });
    }
  }
  return { inPlace, allocs };
}

/**
 * Host clusters in QEMU's order (qcow2_alloc_host_offset), so that images
 * are laid out as QEMU lays them out: per L2 table, its table first (created
 * or copied if needed), then one contiguous run for each stretch of guest
 * clusters needing a new cluster; a stretch going on from the previous table
 * continues right after its run where that is free.
 */
async function allocateHosts(img: Qcow2Image, allocs: AllocCluster[]): Promise<void> {
  const cs = img.cs;
  const per = img.l2Entries;
  const fileEnd = img.file.length();
  const assign = (from: number, start: number, count: number): void => {
    for (let t = 0; t < count; t++) {
      const a = allocs[from + t]!;
      a.host = (start + t) * cs;
      a.fresh = a.host >= fileEnd && !img.dataWriteFailed;
    }
  };
  let lastL1 = -1;
  let prevGc = -2;
  let prevEnd = -1;
  for (let i = 0; i < allocs.length; ) {
    const l1Index = Math.floor(allocs[i]!.gc / per);
    if (l1Index !== lastL1) await ensureL2(img, l1Index);
    lastL1 = l1Index;
    if (allocs[i]!.reused) {
      prevGc = -2;
      i++;
      continue;
    }
    let j = i + 1;
    while (
      j < allocs.length && !allocs[j]!.reused && allocs[j]!.gc === allocs[j - 1]!.gc + 1 &&
      Math.floor(allocs[j]!.gc / per) === l1Index
    ) j++;
    let k = i;
    if (allocs[i]!.gc === prevGc + 1 && prevEnd >= 0) {
      const n = await img.allocator.allocateAt(prevEnd, j - i);
      assign(k, prevEnd, n);
      k += n;
    }
    if (k < j) {
      const run = await img.allocator.allocate(j - k, true);
      assign(k, run.start, run.count);
    }
    prevGc = allocs[j - 1]!.gc;
    prevEnd = allocs[j - 1]!.host / cs + 1;
    i = j;
  }
}

function groupRuns(allocs: AllocCluster[], cs: number): HostRun[] {
  const runs: HostRun[] = [];
  let cur: AllocCluster[] = [];
  for (const a of allocs) {
    const prev = cur[cur.length - 1];
    if (prev !== undefined && (a.gc !== prev.gc + 1 || a.host !== prev.host + cs)) {
      runs.push({ clusters: cur });
      cur = [];
    }
    cur.push(a);
  }
  if (cur.length > 0) runs.push({ clusters: cur });
  return runs;
}

/** Gives back host clusters of a plan that never got linked. */
export async function releaseNew(img: Qcow2Image, allocs: AllocCluster[]): Promise<void> {
  for (const a of allocs) if (!a.reused && a.host !== 0) await img.allocator.release(a.host / img.cs, 1);
}

/** Points the L2 entries at the written clusters and queues the old ones for freeing. */
export async function linkPlan(img: Qcow2Image, plan: AllocPlan): Promise<void> {
  const cs = img.cs;
  const per = img.l2Entries;
  let tableOff = -1;
  let table: Buffer | undefined;
  for (const a of plan.allocs) {
    const l2Off = img.l1.l2Offset(Math.floor(a.gc / per));
    if (l2Off !== tableOff || table === undefined) {
      table = await img.l2.getForUpdate(l2Off);
      tableOff = l2Off;
    }
    const at = (a.gc % per) * img.l2EntryBytes;
    setEntry(table, at, a.host, true);
    if (img.extL2) writeBitmap(table, at, markWritten(readBitmap(table, at), a.from, a.to, cs));
    if (a.reused) continue;
    if (a.old.kind === Kind.Normal || a.old.kind === Kind.ZeroAlloc) {
      img.frees.queue(hostOfCluster(a.old, a.gc, cs) / cs, 1);
    } else if (a.old.kind === Kind.Compressed) {
      const r = compressedClusters(a.old.comp!, cs);
      img.frees.queue(r.start, r.count);
    }
  }
}
