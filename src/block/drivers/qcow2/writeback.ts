/**
 * Writing cached metadata back in crash-safe order (docs/qcow2-format.md §11):
 *   refcount blocks -> flush -> refcount table -> flush -> L2 tables -> flush
 *   -> L1 table [-> flush]
 * so that on disk a refcount is raised before anything points at the cluster,
 * a new refcount block exists before the table points at it, and a new L2
 * table exists before the L1 entry does, and data written into new clusters
 * is flushed before the L2 entries that expose it.
 * Freed clusters get their refcounts lowered only after the metadata that
 * dropped them has been flushed. Call with the metadata mutex held.
 */
import type { ChildIo } from '../driver.js';
import type { Allocator } from './allocator.js';
import type { DeferredFrees } from './frees.js';
import type { L1Table } from './l1.js';
import type { MetaCache } from './meta-cache.js';
import type { Refcounts } from './refcount.js';

export interface MetadataSet {
  file: ChildIo;
  /** data went into newly allocated clusters since the last flush of the file child */
  dataSinceSync: boolean;
  refs: Refcounts;
  l2: MetaCache;
  l1: L1Table;
  frees: DeferredFrees;
  allocator: Allocator;
}

/** Writes every dirty table of `cache` (copies, so the file child may keep the buffer). */
export async function writeTables(file: ChildIo, cache: MetaCache): Promise<void> {
  const offsets = cache.dirtyOffsets();
  await Promise.all(
    offsets.map(async (off) => {
      const t = cache.peek(off);
      if (t === undefined) return;
      await file.write(off, Buffer.from(t));
      cache.markClean(off);
    }),
  );
}

/**
 * Writes all dirty metadata. With `durable`, also releases freed clusters,
 * writes those refcounts too, and ends with a flush of the file child.
 */
export async function writeback(m: MetadataSet, durable: boolean): Promise<void> {
  // new data clusters must be on disk before L2 entries expose them (QEMU only orders by
  // completion; a flush also guarantees the file covers them after a crash)
  let unsynced = m.dataSinceSync;
  const sync = async (): Promise<void> => {
    if (unsynced) {
      m.dataSinceSync = false;
      await m.file.flush();
    }
    unsynced = false;
  };
  for (let pass = 0; pass < 2; pass++) {
    if (m.refs.blocks.dirtyCount > 0) {
      await writeTables(m.file, m.refs.blocks);
      unsynced = true;
    }
    if (m.refs.dirtySectors.size > 0) {
      await sync();
      await m.refs.writeTableSectors();
      unsynced = true;
    }
    if (m.l2.dirtyCount > 0) {
      await sync();
      await writeTables(m.file, m.l2);
      unsynced = true;
    }
    if (m.l1.dirtySectors.size > 0) {
      await sync();
      await m.l1.writeDirty();
      unsynced = true;
    }
    if (pass === 1 || m.frees.size === 0) break;
    await sync();
    const ready = m.frees.takeReleasable();
    for (const r of ready) await m.allocator.release(r.cluster, r.count);
    if (!durable || ready.length === 0) break;
  }
  if (durable) {
    m.dataSinceSync = false;
    await m.file.flush();
  }
}
