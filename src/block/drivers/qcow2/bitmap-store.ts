/**
 * Storing persistent bitmaps in QEMU 7.2's order of allocations and frees
 * (block/qcow2-bitmap.c), so that the image is laid out as QEMU lays it out:
 * freed clusters are handed out again lowest first, so the order decides
 * where everything lands.
 *
 *  1. At removal (qcow2_co_remove_persistent_dirty_bitmap): a new directory
 *     without the bitmap, the header switched to it, the old directory
 *     freed, then the bitmap's data clusters and table.
 *  2. At close (qcow2_store_persistent_dirty_bitmaps): the bitmaps already in
 *     the directory, in its order, then the new ones, newest first; each gets
 *     its data clusters and then its table; a bitmap left inconsistent keeps
 *     its entry as it is. Then a new directory and the header switch, the old
 *     directory freed, and last the old tables of the bitmaps stored again.
 *
 * Every header switch comes after the refcounts of everything it reaches and
 * everything written are durable, and frees come only after it: a crash
 * leaves the old or the new set of bitmaps, at worst with leaked clusters.
 */
import type { StoredBitmap } from '../driver.js';
import {
  bitmapBytes, bitmapDirectory, entrySize, ENTRY_FIXED, FLAG_AUTO, FLAG_IN_USE, setBitmapDirectory, TYPE_DIRTY_TRACKING,
  type BitmapDirEntry,
} from './bitmaps.js';
import { AUTOCLEAR_BITMAPS } from './constants.js';
import { entryOffset } from './entries.js';
import { buildHeaderCluster } from './header-write.js';
import type { Qcow2Image } from './image.js';
import { writeback } from './writeback.js';

type DirEntry = Omit<BitmapDirEntry, 'pos'>;

/**
 * `bitmaps` come oldest first, as the node lists them reversed; call with
 * the lock held.
 */
export async function storeLocked(img: Qcow2Image, bitmaps: StoredBitmap[]): Promise<void> {
  // clusters whose frees were deferred (discards, copy-on-write) are free again first: QEMU freed them at once
  await writeback(img, true);
  const wanted = new Map(bitmaps.map((b) => [b.name, b]));
  // normally none left: a bitmap leaves the image when it is removed (removeStoredLocked)
  for (const gone of bitmapDirectory(img).filter((e) => !wanted.has(e.name))) await removeStoredLocked(img, gone.name);
  const entries: DirEntry[] = bitmapDirectory(img);
  const inImage = new Set(entries.map((e) => e.name));
  const fresh = bitmaps.filter((b) => !inImage.has(b.name)).reverse();
  const drops: DirEntry[] = [];
  const next: DirEntry[] = [];
  for (const e of entries) {
    const b = wanted.get(e.name)!;
    // QEMU skips inconsistent bitmaps: their entry and table stay as they are
    if (b.inconsistent) {
      next.push(e);
      continue;
    }
    drops.push(e);
    next.push(await storeBitmap(img, b));
  }
  for (const b of fresh) next.push(await storeBitmap(img, b));
  if (next.length === 0 && img.header.bitmaps === null) return;
  await switchDirectory(img, next);
  for (const e of drops) await freeBitmapClusters(img, e);
}

/**
 * qcow2_co_remove_persistent_dirty_bitmap(): a new directory without `name`,
 * the header switched to it, then the bitmap's clusters freed. A name the
 * image does not hold is not an error (the bitmap was never stored). Call
 * with the lock held.
 */
export async function removeStoredLocked(img: Qcow2Image, name: string): Promise<void> {
  const entries = bitmapDirectory(img);
  const gone = entries.find((e) => e.name === name);
  if (gone === undefined) return;
  await writeback(img, true);
  // QEMU flagged every bitmap it loaded in-use at open, and these entries say so
  await switchDirectory(img, entries.filter((e) => e !== gone).map((e) => ({ ...e, flags: e.flags | FLAG_IN_USE })));
  await freeBitmapClusters(img, gone);
}

/** Data clusters (only those with a bit set), then the table (store_bitmap). */
async function storeBitmap(img: Qcow2Image, b: StoredBitmap): Promise<DirEntry> {
  const cs = img.cs;
  const bytes = bitmapBytes(img.size, b.granularity);
  const data = Buffer.alloc(Math.ceil(bytes / cs) * cs);
  data.set(b.bits.subarray(0, bytes));
  const tailBits = Math.ceil(img.size / b.granularity) % 8;
  if (tailBits !== 0 && bytes > 0) data[bytes - 1]! &= (1 << tailBits) - 1;
  const clusters: number[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i * cs < data.length; i++) {
    const chunk = data.subarray(i * cs, (i + 1) * cs);
    if (chunk.every((x) => x === 0)) {
      clusters.push(0);
      continue;
    }
    const off = (await img.allocator.allocate(1)).start * cs;
    clusters.push(off);
    writes.push(img.file.write(off, chunk));
  }
  const tableClusters = Math.ceil((clusters.length * 8) / cs);
  const tableOffset = tableClusters > 0 ? (await img.allocator.allocate(tableClusters, true)).start * cs : 0;
  if (tableClusters > 0) {
    // the entries only, as QEMU writes them (the rest of the cluster keeps what it had)
    const table = Buffer.alloc(clusters.length * 8);
    clusters.forEach((off, i) => table.writeBigUInt64BE(BigInt(off), i * 8));
    writes.push(img.file.write(tableOffset, table));
  }
  await Promise.all(writes);
  return {
    tableOffset,
    tableSize: clusters.length,
    flags: b.enabled ? FLAG_AUTO : 0,
    granularityBits: Math.log2(b.granularity),
    name: b.name,
  };
}

/** A new directory for `entries` (none if empty), the header switched to it, the old one freed. */
async function switchDirectory(img: Qcow2Image, entries: DirEntry[]): Promise<void> {
  const cs = img.cs;
  const dirSize = entries.reduce((n, e) => n + entrySize(Buffer.byteLength(e.name)), 0);
  const dirOffset = dirSize > 0 ? (await img.allocator.allocate(Math.ceil(dirSize / cs), true)).start * cs : 0;
  // refcounts of every new cluster are on disk before anything points at them
  await writeback(img, true);
  const dir = Buffer.alloc(dirSize);
  const placed: BitmapDirEntry[] = [];
  let pos = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    dir.writeBigUInt64BE(BigInt(e.tableOffset), pos);
    dir.writeUInt32BE(e.tableSize, pos + 8);
    dir.writeUInt32BE(e.flags, pos + 12);
    dir[pos + 16] = TYPE_DIRTY_TRACKING;
    dir[pos + 17] = e.granularityBits;
    dir.writeUInt16BE(name.length, pos + 18);
    name.copy(dir, pos + ENTRY_FIXED);
    placed.push({ ...e, pos });
    pos += entrySize(name.length);
  }
  if (dirSize > 0) await img.file.write(dirOffset, dir);
  await img.file.flush();

  const h = img.header;
  const old = h.bitmaps;
  const next = {
    ...h,
    bitmaps: entries.length > 0 ? { nbBitmaps: entries.length, directorySize: dirSize, directoryOffset: dirOffset } : null,
    autoclear: entries.length > 0 ? h.autoclear | AUTOCLEAR_BITMAPS : h.autoclear & ~AUTOCLEAR_BITMAPS,
  };
  await img.file.write(0, buildHeaderCluster(next));
  await img.file.flush();
  h.bitmaps = next.bitmaps;
  h.autoclear = next.autoclear;
  setBitmapDirectory(img, placed);
  if (old !== null && old.directorySize > 0) {
    await img.allocator.release(old.directoryOffset / cs, Math.ceil(old.directorySize / cs));
  }
}

/** Data clusters first, then the table (free_bitmap_clusters); nothing on disk reaches them any more. */
async function freeBitmapClusters(img: Qcow2Image, e: DirEntry): Promise<void> {
  const cs = img.cs;
  const table = Buffer.alloc(e.tableSize * 8);
  await img.file.read(e.tableOffset, table);
  for (let i = 0; i < e.tableSize; i++) {
    const off = entryOffset(table, i * 8);
    if (off !== 0) await img.allocator.release(off / cs, 1);
  }
  const tableClusters = Math.ceil((e.tableSize * 8) / cs);
  if (tableClusters > 0) await img.allocator.release(e.tableOffset / cs, tableClusters);
}
