/**
 * Persistent dirty bitmaps (qcow2 spec "Bitmaps"; docs/qcow2-format.md §4):
 * the bitmaps header extension points at a bitmap directory; each entry
 * points at a bitmap table whose entries point at data clusters (0 = all
 * zeroes). Bits are least significant first. Storing replaces every bitmap:
 * new clusters are refcounted and flushed, then data, tables and directory
 * are written and flushed, then cluster 0 switches over, and only then are
 * the old structures released. Before the first write after opening, enabled
 * bitmaps are flagged in-use on disk, since the stored bits go stale.
 */
import type { StoredBitmap } from '../driver.js';
import { AUTOCLEAR_BITMAPS } from './constants.js';
import { entryOffset } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import { buildHeaderCluster } from './header-write.js';
import type { Qcow2Image } from './image.js';
import { writeback } from './writeback.js';

const FLAG_IN_USE = 0x1;
const FLAG_AUTO = 0x2;
const TYPE_DIRTY_TRACKING = 1;
const ENTRY_FIXED = 24;
const MAX_NAME = 1023;
const MIN_GRANULARITY_BITS = 9;
const MAX_GRANULARITY_BITS = 31;
/** QEMU's QCOW2_MAX_BITMAPS and directory size limit. */
const MAX_BITMAPS = 65535;
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

export interface BitmapDirEntry {
  tableOffset: number;
  tableSize: number;
  flags: number;
  granularityBits: number;
  name: string;
  /** byte offset of this entry inside the directory */
  pos: number;
}

const directories = new WeakMap<Qcow2Image, BitmapDirEntry[]>();
/** Images whose caller has seen the stored bitmaps (loadBitmaps was called). */
const loadedBy = new WeakSet<Qcow2Image>();

function bitmapBytes(size: number, granularity: number): number {
  return Math.ceil(Math.ceil(size / granularity) / 8);
}

function entrySize(nameLen: number): number {
  return (ENTRY_FIXED + nameLen + 7) & ~7;
}

/** Reads and checks the bitmap directory (at open; reads only). */
export async function readBitmapDirectory(img: Qcow2Image): Promise<void> {
  // registered even without bitmaps: ones stored later must be flagged on the next write too
  img.firstWriteHooks.push(() => markInUse(img));
  const ext = img.header.bitmaps;
  if (ext === null) return;
  if (ext.nbBitmaps > MAX_BITMAPS || ext.directorySize > MAX_DIRECTORY_BYTES || ext.directoryOffset % img.cs !== 0) {
    throw E.corrupt('invalid bitmaps extension');
  }
  const dir = Buffer.alloc(ext.directorySize);
  await img.file.read(ext.directoryOffset, dir);
  const entries: BitmapDirEntry[] = [];
  let pos = 0;
  for (let i = 0; i < ext.nbBitmaps; i++) {
    if (pos + ENTRY_FIXED > dir.length) throw E.corrupt('bitmap directory is truncated');
    const nameLen = dir.readUInt16BE(pos + 18);
    const extra = dir.readUInt32BE(pos + 20);
    const end = pos + ENTRY_FIXED + extra + nameLen;
    if (end > dir.length) throw E.corrupt('bitmap directory is truncated');
    entries.push({
      tableOffset: entryOffset(dir, pos),
      tableSize: dir.readUInt32BE(pos + 8),
      flags: dir.readUInt32BE(pos + 12),
      granularityBits: dir[pos + 17]!,
      name: dir.toString('utf8', pos + ENTRY_FIXED + extra, end),
      pos,
    });
    pos = (end + 7) & ~7;
  }
  directories.set(img, entries);
}

/** The stored bitmaps as query-named-block-nodes shows them in format-specific data. */
export function storedBitmapInfo(img: Qcow2Image): { flags: string[]; name: string; granularity: number }[] {
  return (directories.get(img) ?? []).map((e) => {
    const flags: string[] = [];
    if (e.flags & FLAG_IN_USE) flags.push('in-use');
    if (e.flags & FLAG_AUTO) flags.push('auto');
    return { flags, name: e.name, granularity: 2 ** e.granularityBits };
  });
}

/** Flags enabled bitmaps in-use in the directory, in place (with the lock held). */
async function markInUse(img: Qcow2Image): Promise<void> {
  const ext = img.header.bitmaps;
  const entries = directories.get(img) ?? [];
  const stale = entries.filter((e) => (e.flags & FLAG_AUTO) !== 0 && (e.flags & FLAG_IN_USE) === 0);
  if (ext === null || stale.length === 0) return;
  const flag = Buffer.alloc(4);
  for (const e of stale) {
    e.flags |= FLAG_IN_USE;
    flag.writeUInt32BE(e.flags);
    await img.file.write(ext.directoryOffset + e.pos + 12, Buffer.from(flag));
  }
  await img.file.flush();
}

export async function loadBitmaps(img: Qcow2Image): Promise<StoredBitmap[]> {
  loadedBy.add(img);
  const out: StoredBitmap[] = [];
  for (const e of directories.get(img) ?? []) {
    const granularity = 2 ** e.granularityBits;
    const bits = new Uint8Array(bitmapBytes(img.size, granularity));
    const inconsistent = (e.flags & FLAG_IN_USE) !== 0;
    if (!inconsistent) await readBitmapData(img, e, bits);
    const b: StoredBitmap = { name: e.name, granularity, enabled: (e.flags & FLAG_AUTO) !== 0, bits };
    if (inconsistent) b.inconsistent = true;
    out.push(b);
  }
  return out;
}

async function readBitmapData(img: Qcow2Image, e: BitmapDirEntry, bits: Uint8Array): Promise<void> {
  const cs = img.cs;
  const table = Buffer.alloc(e.tableSize * 8);
  await img.file.read(e.tableOffset, table);
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < e.tableSize && i * cs < bits.length; i++) {
    const dst = Buffer.from(bits.buffer, bits.byteOffset + i * cs, Math.min(cs, bits.length - i * cs));
    const off = entryOffset(table, i * 8);
    if (off !== 0) tasks.push(img.file.read(off, dst));
    else if ((table.readUInt32BE(i * 8 + 4) & 1) !== 0) dst.fill(0xff);
  }
  await Promise.all(tasks);
}

interface Layout {
  bitmap: StoredBitmap;
  granularityBits: number;
  data: Buffer;
  /** data cluster offsets (0 for all-zero clusters) */
  clusters: number[];
  tableOffset: number;
}

export async function storeBitmaps(img: Qcow2Image, bitmaps: StoredBitmap[]): Promise<void> {
  for (const b of bitmaps) {
    const gb = Math.log2(b.granularity);
    if (!Number.isInteger(gb) || gb < MIN_GRANULARITY_BITS || gb > MAX_GRANULARITY_BITS) throw E.invalidArgument();
    if (b.name.length === 0 || Buffer.byteLength(b.name) > MAX_NAME) throw E.invalidArgument();
  }
  // nothing stored and nothing to store: leave the file alone (close of an untouched image)
  if (bitmaps.length === 0 && img.header.bitmaps === null) return;
  if (!loadedBy.has(img) && img.header.bitmaps !== null) {
    // a caller that never loaded the stored bitmaps cannot mean to delete them: keep them
    if (bitmaps.length === 0) return;
    const names = new Set(bitmaps.map((b) => b.name));
    const kept = (await loadBitmaps(img)).filter((b) => !names.has(b.name));
    bitmaps = [...kept, ...bitmaps];
  }
  if (img.header.version < 3) throw E.bitmapsNeedV3();
  await img.ensureWritable();
  await img.lock.run(() => storeLocked(img, bitmaps));
  // enabled bitmaps just stored go stale again with the next write
  img.rearmFirstWrite();
}

async function storeLocked(img: Qcow2Image, bitmaps: StoredBitmap[]): Promise<void> {
  const cs = img.cs;
  const alloc = img.allocator;
  const layouts: Layout[] = [];
  for (const b of bitmaps) {
    const granularityBits = Math.log2(b.granularity);
    const bytes = bitmapBytes(img.size, b.granularity);
    const data = Buffer.alloc(Math.ceil(bytes / cs) * cs);
    data.set(b.bits.subarray(0, bytes));
    const tailBits = Math.ceil(img.size / b.granularity) % 8;
    if (tailBits !== 0 && bytes > 0) data[bytes - 1]! &= (1 << tailBits) - 1;
    const clusters: number[] = [];
    for (let i = 0; i * cs < data.length; i++) {
      const zero = data.subarray(i * cs, (i + 1) * cs).every((x) => x === 0);
      clusters.push(zero ? 0 : (await alloc.allocate(1)).start * cs);
    }
    const tableClusters = Math.ceil((clusters.length * 8) / cs);
    const tableOffset = tableClusters > 0 ? (await alloc.allocate(tableClusters, true)).start * cs : 0;
    layouts.push({ bitmap: b, granularityBits, data, clusters, tableOffset });
  }
  const dirSize = bitmaps.reduce((n, b) => n + entrySize(Buffer.byteLength(b.name)), 0);
  const dirOffset = dirSize > 0 ? (await alloc.allocate(Math.ceil(dirSize / cs), true)).start * cs : 0;
  // refcounts of every new cluster are on disk before anything points at them
  await writeback(img, true);

  const dir = Buffer.alloc(dirSize);
  const entries: BitmapDirEntry[] = [];
  const writes: Promise<void>[] = [];
  let pos = 0;
  for (const l of layouts) {
    const table = Buffer.alloc(Math.ceil((l.clusters.length * 8) / cs) * cs);
    l.clusters.forEach((off, i) => {
      table.writeBigUInt64BE(BigInt(off), i * 8);
      if (off !== 0) writes.push(img.file.write(off, l.data.subarray(i * cs, (i + 1) * cs)));
    });
    if (table.length > 0) writes.push(img.file.write(l.tableOffset, table));
    const name = Buffer.from(l.bitmap.name, 'utf8');
    const flags = (l.bitmap.enabled ? FLAG_AUTO : 0) | (l.bitmap.inconsistent ? FLAG_IN_USE : 0);
    dir.writeBigUInt64BE(BigInt(l.tableOffset), pos);
    dir.writeUInt32BE(l.clusters.length, pos + 8);
    dir.writeUInt32BE(flags, pos + 12);
    dir[pos + 16] = TYPE_DIRTY_TRACKING;
    dir[pos + 17] = l.granularityBits;
    dir.writeUInt16BE(name.length, pos + 18);
    name.copy(dir, pos + ENTRY_FIXED);
    entries.push({
      tableOffset: l.tableOffset,
      tableSize: l.clusters.length,
      flags,
      granularityBits: l.granularityBits,
      name: l.bitmap.name,
      pos,
    });
    pos += entrySize(name.length);
  }
  if (dirSize > 0) writes.push(img.file.write(dirOffset, dir));
  await Promise.all(writes);
  await img.file.flush();

  const h = img.header;
  const old = h.bitmaps;
  const oldEntries = directories.get(img) ?? [];
  const next = {
    ...h,
    bitmaps: bitmaps.length > 0 ? { nbBitmaps: bitmaps.length, directorySize: dirSize, directoryOffset: dirOffset } : null,
    autoclear: bitmaps.length > 0 ? h.autoclear | AUTOCLEAR_BITMAPS : h.autoclear & ~AUTOCLEAR_BITMAPS,
  };
  await img.file.write(0, buildHeaderCluster(next));
  await img.file.flush();
  h.bitmaps = next.bitmaps;
  h.autoclear = next.autoclear;
  directories.set(img, entries);

  if (old !== null) await releaseOld(img, old.directoryOffset, old.directorySize, oldEntries);
}

/** Releases the previous directory, tables and data clusters (cluster 0 no longer points at them). */
async function releaseOld(img: Qcow2Image, dirOffset: number, dirSize: number, entries: BitmapDirEntry[]): Promise<void> {
  const cs = img.cs;
  for (const e of entries) {
    const table = Buffer.alloc(e.tableSize * 8);
    await img.file.read(e.tableOffset, table);
    for (let i = 0; i < e.tableSize; i++) {
      const off = entryOffset(table, i * 8);
      if (off !== 0) await img.allocator.release(off / cs, 1);
    }
    const tableClusters = Math.ceil((e.tableSize * 8) / cs);
    if (tableClusters > 0) await img.allocator.release(e.tableOffset / cs, tableClusters);
  }
  if (dirSize > 0) await img.allocator.release(dirOffset / cs, Math.ceil(dirSize / cs));
}
