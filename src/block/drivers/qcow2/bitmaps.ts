/**
 * Persistent dirty bitmaps (qcow2 spec "Bitmaps"; docs/qcow2-format.md §4):
 * the bitmaps header extension points at a bitmap directory; each entry
 * points at a bitmap table whose entries point at data clusters (0 = all
 * zeroes). Bits are least significant first. Storing (bitmap-store.ts)
 * follows QEMU's order of allocations and frees. Before the first write after
 * opening, enabled bitmaps are flagged in-use on disk, since the stored bits
 * go stale.
 */
import type { StoredBitmap } from '../driver.js';
import { removeStoredLocked, storeLocked } from './bitmap-store.js';
import { entryOffset } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';

export const FLAG_IN_USE = 0x1;
export const FLAG_AUTO = 0x2;
export const TYPE_DIRTY_TRACKING = 1;
export const ENTRY_FIXED = 24;
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

/** The bitmap directory as it is on disk, in directory order. */
export function bitmapDirectory(img: Qcow2Image): BitmapDirEntry[] {
  return directories.get(img) ?? [];
}

export function setBitmapDirectory(img: Qcow2Image, entries: BitmapDirEntry[]): void {
  directories.set(img, entries);
}
/** Images whose caller has seen the stored bitmaps (loadBitmaps was called). */
const loadedBy = new WeakSet<Qcow2Image>();

export function bitmapBytes(size: number, granularity: number): number {
  return Math.ceil(Math.ceil(size / granularity) / 8);
}

export function entrySize(nameLen: number): number {
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

/** Flags bitmaps in-use in the directory, in place (with the lock held): enabled ones, or all. */
async function markInUse(img: Qcow2Image, all = false): Promise<void> {
  const ext = img.header.bitmaps;
  const entries = directories.get(img) ?? [];
  const stale = entries.filter((e) => (all || (e.flags & FLAG_AUTO) !== 0) && (e.flags & FLAG_IN_USE) === 0);
  if (ext === null || stale.length === 0) return;
  const flag = Buffer.alloc(4);
  for (const e of stale) {
    e.flags |= FLAG_IN_USE;
    flag.writeUInt32BE(e.flags);
    await img.file.write(ext.directoryOffset + e.pos + 12, Buffer.from(flag));
  }
  await img.file.flush();
}

/**
 * Once the image is writable, every stored bitmap is flagged in use, since
 * its caller now owns it and may change it (qcow2_load_dirty_bitmaps and
 * qcow2_reopen_bitmaps_rw).
 */
export async function claimStoredBitmaps(img: Qcow2Image): Promise<void> {
  if (img.readOnly || !loadedBy.has(img) || bitmapDirectory(img).every((e) => (e.flags & FLAG_IN_USE) !== 0)) return;
  await img.lock.run(() => markInUse(img, true));
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
  await claimStoredBitmaps(img);
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

/** Takes one bitmap out of the image at once, as QEMU does when it is removed. */
export async function removeStoredBitmap(img: Qcow2Image, name: string): Promise<void> {
  if (!bitmapDirectory(img).some((e) => e.name === name)) return;
  await img.ensureWritable();
  await img.lock.run(() => removeStoredLocked(img, name));
}
