/**
 * When a node's persistent bitmaps reach its image, as in QEMU 7.2: at close
 * of a writable node, and just before the node becomes read-only (a snapshot
 * base, blockdev-reopen, the way back from change-backing-file), since a
 * read-only image can no longer take them.
 */
import type { Logger } from 'pino';
import type { DirtyBitmap } from './bitmap.js';
import type { StoredBitmap } from './drivers/driver.js';
import type { BlockNode } from './node.js';

/** Persistent, and not taken out of the image by a pending transaction (QEMU's skip_store). */
const belongsInImage = (b: DirtyBitmap): boolean => b.persistent && !b.skipStore;

/** The bitmaps to store, oldest first. */
function bitmapsToStore(node: BlockNode): StoredBitmap[] {
  return node.bitmaps
    .filter(belongsInImage)
    .reverse()
    .map((b) => {
      const stored: StoredBitmap = { name: b.name, granularity: b.granularity, enabled: b.recording, bits: b.snapshotBits() };
      // an inconsistent bitmap keeps its in-use entry: its bits are not known
      if (b.inconsistent) stored.inconsistent = true;
      return stored;
    });
}

/**
 * Stores the node's persistent bitmaps in its image, which must still be
 * writable: before the node becomes read-only, as QEMU's reopen prepare
 * does (qcow2_reopen_bitmaps_ro). Nothing to store leaves the image alone.
 */
export async function storeNodeBitmaps(node: BlockNode): Promise<void> {
  if (!node.instance.storeBitmaps || node.readOnly || !node.bitmaps.some(belongsInImage)) return;
  await node.instance.storeBitmaps(bitmapsToStore(node));
  // the refcounts the store changed are written back before the image turns read-only
  await node.instance.flush?.();
  for (const b of node.bitmaps) if (belongsInImage(b)) b.inImage = true;
}

/**
 * After storing, as the node goes read-only: its persistent bitmaps can no
 * longer be modified, stored or not (qcow2_reopen_bitmaps_ro).
 */
export function markBitmapsReadOnly(node: BlockNode): void {
  for (const b of node.bitmaps) if (b.persistent) b.readOnly = true;
}

/**
 * The node is read-write again: the bitmaps its image holds can be modified
 * again; one added while it was read-only was never read-only
 * (qcow2_reopen_bitmaps_rw).
 */
export function releaseReadOnlyBitmaps(node: BlockNode): void {
  if (!node.instance.storeBitmaps) return;
  for (const b of node.bitmaps) if (b.inImage) b.readOnly = false;
}

/** At close: a writable node stores its bitmaps; a read-only one loses those never stored, as QEMU does. */
export async function storeBitmapsAtClose(node: BlockNode, log: Logger): Promise<void> {
  if (!node.readOnly) return storeNodeBitmaps(node);
  const lost = node.bitmaps.filter((b) => belongsInImage(b) && !b.inImage);
  if (lost.length > 0) {
    log.warn(
      { node: node.nodeName, bitmaps: lost.map((b) => b.name) },
      `Lost persistent bitmaps during inactivation of node '${node.nodeName}': No write access`,
    );
  }
}
