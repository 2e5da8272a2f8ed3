/**
 * Shrinking the virtual size, as QEMU 7.2's qcow2_co_truncate does it:
 *  1. every cluster from the first whole cluster past the new end is
 *     dropped (L2 entries become unallocated; shared tables are copied first);
 *  2. L1 entries past the new L1 size are cleared and their L2 tables
 *     dropped, but the L1 table keeps its size and place;
 *  3. refcount blocks that no longer count anything but themselves leave
 *     the refcount table;
 *  4. the file is cut after the last cluster still in use.
 * The header's size is written by the caller, last. References go before
 * refcounts drop (deferred frees, writeback.ts), so a crash only leaks.
 * Call with the metadata mutex held and no guest write in flight.
 */
import { compressedClusters } from './compressed.js';
import { classify, compressedRange, entryOffset, Kind } from './entries.js';
import { ensureL2 } from './alloc-plan.js';
import type { Qcow2Image } from './image.js';
import { writeback } from './writeback.js';

/** Queues the references an L2 entry holds for release. */
function dropEntry(img: Qcow2Image, table: Buffer, pos: number): void {
  const kind = classify(table, pos, img.zeroBit);
  if (kind === Kind.Normal || kind === Kind.ZeroAlloc) {
    img.frees.queue(entryOffset(table, pos) / img.cs, 1);
  } else if (kind === Kind.Compressed) {
    const r = compressedClusters(compressedRange(table, pos, img.clusterBits), img.cs);
    img.frees.queue(r.start, r.count);
  }
}

/** Steps 1 and 2: no L2 entry or L1 entry maps anything at or past guest cluster `first`. */
async function dropClusters(img: Qcow2Image, first: number, oldClusters: number, newL1Size: number): Promise<void> {
  const per = img.l2Entries;
  const l1 = img.l1;
  for (let c = first; c < oldClusters; ) {
    const l1Index = Math.floor(c / per);
    const tableEnd = Math.min(oldClusters, (l1Index + 1) * per);
    // QEMU's discard goes through get_cluster_table(), which allocates an L2
    // table where the L1 entry has none (even past the new end, where it is
    // dropped again below): the file's layout and length follow from that
    const t = await img.l2.getForUpdate(await ensureL2(img, l1Index));
    for (let i = c; i < tableEnd; i++) {
      const pos = (i % per) * img.l2EntryBytes;
      dropEntry(img, t, pos);
      // the whole entry goes, subcluster bitmap included (QEMU's full discard)
      t.fill(0, pos, pos + img.l2EntryBytes);
    }
    c = tableEnd;
  }
  for (let i = newL1Size; i < l1.size; i++) {
    const l2Off = l1.l2Offset(i);
    if (l2Off === 0) continue;
    // leaving this L1 drops one reference from the table and one from everything it maps
    const t = Buffer.from(await img.l2.get(l2Off));
    for (let pos = 0; pos < img.cs; pos += img.l2EntryBytes) dropEntry(img, t, pos);
    img.frees.queue(l2Off / img.cs, 1);
    l1.put(i, 0, false);
  }
}

/** Step 3 (qcow2_shrink_reftable): refcount blocks that count nothing but themselves are dropped. */
async function shrinkRefcountTable(img: Qcow2Image): Promise<void> {
  const refs = img.refs;
  const cs = img.cs;
  const per = refs.perBlock;
  const table = Buffer.from(refs.table);
  const dropped: number[] = [];
  for (let i = 0; i < refs.tableEntries; i++) {
    const off = refs.blockOffset(i);
    if (off === 0) continue;
    const block = refs.blocks.peek(off) ?? (await refs.blocks.get(off));
    const self = off / cs;
    let unused = true;
    for (let k = 0; k < per && unused; k++) {
      if (refs.read(block, k) !== 0 && !(Math.floor(self / per) === i && self % per === k)) unused = false;
    }
    if (!unused) continue;
    table.fill(0, i * 8, i * 8 + 8);
    dropped.push(i);
  }
  if (dropped.length === 0) return;
  await img.file.write(refs.tableOffset, table);
  await img.file.flush();
  for (const i of dropped) {
    const off = refs.blockOffset(i);
    const self = off / cs;
    table.copy(refs.table, i * 8, i * 8, i * 8 + 8);
    refs.blocks.drop(off);
    // a block described by another block gives its cluster back there
    if (Math.floor(self / per) !== i && refs.blockOffset(Math.floor(self / per)) !== 0) {
      await img.allocator.release(self, 1);
    } else if (self < img.allocator.freeIndex) {
      img.allocator.freeIndex = self;
    }
  }
}

/** Step 4: the file ends after the last cluster whose refcount is not 0. */
async function cutFile(img: Qcow2Image): Promise<void> {
  const cs = img.cs;
  const length = img.file.length();
  let last = Math.ceil(length / cs) - 1;
  while (last >= 0 && (await img.refs.get(last)) === 0) last--;
  const end = (last + 1) * cs;
  if (end >= length) return;
  try {
    await img.file.truncate(end);
  } catch (err) {
    // QEMU only warns: the image is consistent either way
    img.log.warn({ err }, 'qcow2: Failed to truncate the tail of the image');
  }
}

export async function shrinkLocked(img: Qcow2Image, size: number): Promise<void> {
  const cs = img.cs;
  const first = Math.ceil(size / cs);
  const oldClusters = Math.ceil(img.size / cs);
  const newL1Size = Math.ceil(size / (cs * img.l2Entries));
  await dropClusters(img, first, oldClusters, newL1Size);
  await writeback(img, true);
  await shrinkRefcountTable(img);
  await writeback(img, true);
  await cutFile(img);
}
