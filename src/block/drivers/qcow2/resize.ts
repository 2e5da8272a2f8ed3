/**
 * Changing the virtual size. Growing (docs/qcow2-format.md §9.4): a larger
 * L1 table is written in full at new clusters and flushed; the header
 * switches to it with one 12-byte write and is flushed; only then are the
 * old L1 clusters released. Shrinking: shrink.ts. Either way the new size is
 * written to the header last. Like QEMU 7.2, a v2 image with internal
 * snapshots keeps its size (v2 snapshots need not record theirs).
 */
import { QmpError } from '../../../qmp/error.js';
import { MAX_L1_BYTES, OFF_L1_SIZE, OFF_SIZE } from './constants.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import { shrinkLocked } from './shrink.js';
import { writeback } from './writeback.js';

/** Call with the lock held. */
async function growL1(img: Qcow2Image, entries: number): Promise<void> {
  const cs = img.cs;
  const l1 = img.l1;
  if (entries * 8 > MAX_L1_BYTES) throw E.l1TooLarge();
  const clusters = Math.ceil((entries * 8) / cs);
  const run = await img.allocator.allocate(clusters, true);
  // the new table copies every in-memory entry: their L2 tables and refcounts go first
  await writeback(img, true);
  const buf = Buffer.alloc(clusters * cs);
  l1.buf.copy(buf, 0, 0, l1.size * 8);
  const offset = run.start * cs;
  await img.file.write(offset, buf.subarray(0, entries * 8));
  await img.file.flush();
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32BE(entries, 0);
  hdr.writeBigUInt64BE(BigInt(offset), 4);
  await img.file.write(OFF_L1_SIZE, hdr);
  await img.file.flush();
  const oldStart = l1.offset / cs;
  const oldClusters = l1.size > 0 ? Math.ceil((l1.size * 8) / cs) : 0;
  l1.buf = buf;
  l1.size = entries;
  l1.offset = offset;
  l1.dirtySectors.clear();
  img.header.l1Size = entries;
  img.header.l1TableOffset = offset;
  if (oldClusters > 0) await img.allocator.release(oldStart, oldClusters);
}

/** Call with no guest write in flight (the image's write gate held). */
export async function truncateImage(img: Qcow2Image, size: number): Promise<void> {
  await img.ensureWritable();
  if (size % 512 !== 0) throw QmpError.generic('The new size must be a multiple of 512');
  if (img.snapshots.length > 0 && img.header.version < 3) throw E.resizeV2WithSnapshots();
  const old = img.size;
  if (size === old) return;
  await img.lock.run(async () => {
    const span = img.cs * img.l2Entries;
    const entries = Math.ceil(size / span);
    if (size < old) await shrinkLocked(img, size);
    else if (entries > img.l1.size) await growL1(img, entries);
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64BE(BigInt(size));
    await img.file.write(OFF_SIZE, buf);
    await img.file.flush();
    img.header.size = size;
  });
}
