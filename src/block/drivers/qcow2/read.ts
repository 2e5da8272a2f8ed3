/**
 * Guest reads (docs/qcow2-format.md §8): one file read per run of contiguous
 * data clusters, zero fill for zero clusters, the backing child (zeroes past
 * its end) for unallocated ones. Reads into the caller's buffer, no copies.
 */
import { mapExtents } from './cluster-map.js';
import { readCompressedCluster } from './compressed.js';
import { Kind } from './entries.js';
import type { Qcow2Image } from './image.js';
import { settleAll } from './settle.js';

/** Reads guest bytes [guest, guest + buf.length) from the backing chain below `img`. */
export async function readBacking(img: Qcow2Image, guest: number, buf: Buffer): Promise<void> {
  const backing = img.backing();
  // bytes past the overlay's own size never come from the backing file
  const visible = Math.max(0, Math.min(buf.length, img.size - guest));
  const avail = backing === null ? 0 : Math.max(0, Math.min(visible, backing.length() - guest));
  if (backing !== null && avail > 0) await backing.read(guest, buf.subarray(0, avail));
  if (avail < buf.length) buf.fill(0, avail);
}

export async function readImage(img: Qcow2Image, offset: number, buf: Buffer): Promise<void> {
  const epoch = img.frees.begin();
  try {
    await readRange(img, offset, buf);
  } finally {
    img.frees.end(epoch);
  }
}

/** Reads guest bytes; the caller holds an epoch. */
export async function readRange(img: Qcow2Image, offset: number, buf: Buffer): Promise<void> {
  const extents = await mapExtents(img, offset, buf.length);
  const tasks: Promise<void>[] = [];
  for (const e of extents) {
    const sub = buf.subarray(e.guest - offset, e.guest - offset + e.length);
    switch (e.kind) {
      case Kind.Normal:
        tasks.push(img.file.read(e.host, sub));
        break;
      case Kind.ZeroPlain:
      case Kind.ZeroAlloc:
        sub.fill(0);
        break;
      case Kind.Unallocated:
        tasks.push(readBacking(img, e.guest, sub));
        break;
      case Kind.Compressed:
        tasks.push(
          readCompressedCluster(img, e.comp!, e.guest).then((data) => {
            const inCluster = e.guest % img.cs;
            data.copy(sub, 0, inCluster, inCluster + e.length);
          }),
        );
        break;
    }
  }
  await settleAll(tasks);
}
