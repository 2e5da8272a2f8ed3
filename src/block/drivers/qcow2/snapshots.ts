/**
 * Creating and deleting internal snapshots, in QEMU 7.2's crash-safe order
 * (block/qcow2-snapshot.c; docs/qcow2-format.md §11):
 *
 *   create: copy the active L1 to new clusters -> every cluster it reaches
 *           gains a reference, COPIED flags cleared -> all of it durable ->
 *           new snapshot table -> header switch
 *   delete: new snapshot table without the entry -> header switch -> its
 *           references dropped -> COPIED flags of the active tables set
 *           again where a refcount fell back to 1 -> durable
 *
 * A crash at any point leaves at worst leaked clusters (and, during delete,
 * COPIED flags still clear where QEMU leaves them too). Every function here
 * runs with the metadata mutex held and no guest write in flight.
 */
import { QmpError } from '../../../qmp/error.js';
import type { InternalSnapshot, SnapshotTimes } from '../driver.js';
import { MAX_L1_BYTES, MAX_SAFE_OFFSET } from './constants.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import { releaseL1Refs, updateActiveRefs } from './snapshot-refs.js';
import {
  findSnapshot, nextSnapshotId, NO_ICOUNT, serializeSnapshotTable, type SnapshotEntry,
} from './snapshot-table.js';
import { writeback } from './writeback.js';

/** QEMU's QCOW_MAX_SNAPSHOTS. */
const MAX_SNAPSHOTS = 65536;
/** QEMUSnapshotInfo.name is a 256-byte C string: QEMU keeps the first 255 bytes of a longer name. */
const MAX_NAME_BYTES = 255;
/** Header bytes 60-71: nb_snapshots and snapshots_offset, switched with one write. */
const OFF_NB_SNAPSHOTS = 60;
const NS_PER_SEC = 1_000_000_000n;

export function snapshotInfo(e: SnapshotEntry): InternalSnapshot {
  const info: InternalSnapshot = {
    id: e.id.toString('utf8'),
    name: e.name.toString('utf8'),
    vmStateSize: e.vmStateSize,
    dateSec: e.dateSec,
    dateNsec: e.dateNsec,
    vmClockSec: Number(e.vmClockNsec / NS_PER_SEC),
    vmClockNsec: Number(e.vmClockNsec % NS_PER_SEC),
    diskSize: e.diskSize,
  };
  if (e.icount !== NO_ICOUNT) info.icount = Number(e.icount);
  return info;
}

/** Wall-clock time with microsecond resolution, as QEMU's gettimeofday(); outside a VM the VM clock is the same. */
export function currentTimes(): SnapshotTimes {
  const us = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  return { dateSec: Number(us / 1_000_000n), dateNsec: Number(us % 1_000_000n) * 1000, vmClockNsec: us * 1000n };
}

function describe(err: unknown): string {
  return err instanceof QmpError ? err.desc : err instanceof Error ? err.message : String(err);
}

/**
 * Writes `entries` as a new table in new clusters and switches the header to
 * it; the old table's clusters are released afterwards.
 */
async function writeSnapshotTable(img: Qcow2Image, entries: SnapshotEntry[]): Promise<void> {
  const cs = img.cs;
  const table = serializeSnapshotTable(entries);
  const clusters = Math.ceil(table.length / cs);
  // an empty table takes no cluster; QEMU still records the next free offset
  const offset = clusters > 0 ? (await img.allocator.allocate(clusters, true)).start * cs : img.allocator.freeIndex * cs;
  try {
    // the new clusters' refcounts (and everything else pending) are durable first
    await writeback(img, true);
    if (table.length > 0) await img.file.write(offset, table);
    await img.file.flush();
    const hdr = Buffer.alloc(12);
    hdr.writeUInt32BE(entries.length, 0);
    hdr.writeBigUInt64BE(BigInt(offset), 4);
    await img.file.write(OFF_NB_SNAPSHOTS, hdr);
    await img.file.flush();
  } catch (err) {
    if (clusters > 0) await img.allocator.release(offset / cs, clusters);
    throw err;
  }
  const h = img.header;
  const oldOffset = h.snapshotsOffset;
  const oldClusters = Math.ceil(img.snapshotTableBytes / cs);
  h.nbSnapshots = entries.length;
  h.snapshotsOffset = offset;
  img.snapshots = entries;
  img.snapshotTableBytes = table.length;
  if (oldClusters > 0) await img.allocator.release(Math.floor(oldOffset / cs), oldClusters);
}

export async function createSnapshot(img: Qcow2Image, name: string, times: SnapshotTimes): Promise<InternalSnapshot> {
  if (img.snapshots.length >= MAX_SNAPSHOTS) throw E.fileTooLarge();
  const cs = img.cs;
  const l1 = img.l1;
  const l1Bytes = l1.size * 8;
  const l1Clusters = Math.ceil(l1Bytes / cs);
  const l1Offset = l1Clusters > 0 ? (await img.allocator.allocate(l1Clusters, true)).start * cs : img.allocator.freeIndex * cs;
  try {
    // the copy keeps the active entries' flags as they are now, as QEMU's does
    if (l1Bytes > 0) await img.file.write(l1Offset, Buffer.from(l1.buf.subarray(0, l1Bytes)));
  } catch (err) {
    if (l1Clusters > 0) await img.allocator.release(l1Offset / cs, l1Clusters);
    throw err;
  }
  await updateActiveRefs(img, 1);
  await writeback(img, true);

  const entry: SnapshotEntry = {
    l1Offset,
    l1Size: l1.size,
    id: Buffer.from(nextSnapshotId(img.snapshots), 'latin1'),
    name: Buffer.from(name, 'utf8').subarray(0, MAX_NAME_BYTES),
    dateSec: times.dateSec,
    dateNsec: times.dateNsec,
    vmClockNsec: times.vmClockNsec,
    vmStateSize: 0,
    diskSize: img.size,
    icount: times.icount ?? NO_ICOUNT,
    unknownExtra: Buffer.alloc(0),
  };
  await writeSnapshotTable(img, [...img.snapshots, entry]);
  return snapshotInfo(entry);
}

export async function deleteSnapshot(img: Qcow2Image, id: string | undefined, name: string | undefined): Promise<InternalSnapshot> {
  const index = findSnapshot(img.snapshots, id, name);
  if (index < 0) throw E.snapshotNotFound();
  const e = img.snapshots[index]!;
  if (e.l1Size > MAX_L1_BYTES / 8) throw E.snapshotL1TooLarge();
  if (e.l1Offset % img.cs !== 0 || e.l1Offset + e.l1Size * 8 > MAX_SAFE_OFFSET) throw E.snapshotL1Offset();

  const l1 = Buffer.alloc(e.l1Size * 8);
  try {
    if (img.readOnly) throw QmpError.io('EPERM', 'Operation not permitted');
    if (img.corrupt) throw E.corruptReadWrite();
    await img.prepareFirstWrite();
    await img.file.read(e.l1Offset, l1);
    await writeSnapshotTable(img, img.snapshots.filter((_, i) => i !== index));
  } catch (err) {
    throw QmpError.generic(`Failed to remove snapshot from snapshot list: ${describe(err)}`, { cause: err });
  }
  // from here on a failure only leaks clusters
  try {
    await releaseL1Refs(img, l1, e.l1Size);
    if (e.l1Size > 0) await img.allocator.release(e.l1Offset / img.cs, Math.ceil((e.l1Size * 8) / img.cs));
  } catch (err) {
    throw QmpError.generic(`Failed to free the cluster and L1 table: ${describe(err)}`, { cause: err });
  }
  try {
    await updateActiveRefs(img, 0);
    await writeback(img, true);
  } catch (err) {
    throw QmpError.generic(`Failed to update snapshot status in disk: ${describe(err)}`, { cause: err });
  }
  return snapshotInfo(e);
}
