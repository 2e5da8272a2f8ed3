/**
 * Dirty bitmap operations shared by the block-dirty-bitmap-* commands and
 * transaction actions, with QEMU 7.2's lookups, checks and texts.
 */
import { QmpError } from '../qmp/error.js';
import { DirtyBitmap, MAX_BITMAP_NAME, MIN_GRANULARITY } from './bitmap.js';
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';

/** bdrv_dirty_bitmap_check() flags */
export const CHECK_BUSY = 1;
export const CHECK_RO = 2;
export const CHECK_INCONSISTENT = 4;
export const CHECK_DEFAULT = CHECK_BUSY | CHECK_RO | CHECK_INCONSISTENT;
export const CHECK_ALLOW_RO = CHECK_BUSY | CHECK_INCONSISTENT;

/** block_dirty_bitmap_lookup(): its own "Node '%s' not found" text. */
export function lookupBitmap(graph: BlockGraph, nodeName: string, name: string): { node: BlockNode; bitmap: DirtyBitmap } {
  let node: BlockNode;
  try {
    node = graph.lookup(nodeName, nodeName);
  } catch {
    throw QmpError.generic(`Node '${nodeName}' not found`);
  }
  const bitmap = node.bitmaps.find((b) => b.name === name);
  if (!bitmap) throw QmpError.generic(`Dirty bitmap '${name}' not found`);
  return { node, bitmap };
}

/**
 * bdrv_dirty_bitmap_check(). Read-only is the bitmap's own flag, not its
 * node's: a persistent bitmap added to a read-only node can still be removed.
 */
export function checkBitmap(b: DirtyBitmap, flags: number): void {
  if (flags & CHECK_BUSY && b.busy) {
    throw QmpError.generic(`Bitmap '${b.name}' is currently in use by another operation and cannot be used`);
  }
  if (flags & CHECK_RO && b.readOnly) {
    throw QmpError.generic(`Bitmap '${b.name}' is readonly and cannot be modified`);
  }
  if (flags & CHECK_INCONSISTENT && b.inconsistent) {
    throw QmpError.generic(`Bitmap '${b.name}' is inconsistent and cannot be used`);
  }
}

/** bdrv_get_default_bitmap_granularity(): the cluster size within 4 KiB..64 KiB, else 64 KiB. */
export function defaultGranularity(node: BlockNode): number {
  const cluster = node.instance.imageInfo?.()?.clusterSize;
  return cluster ? Math.min(65536, Math.max(4096, cluster)) : 65536;
}

export interface BitmapAddArgs {
  node: string;
  name: string;
  granularity?: number;
  persistent?: boolean;
  disabled?: boolean;
}

export function addBitmap(graph: BlockGraph, a: BitmapAddArgs): { node: BlockNode; bitmap: DirtyBitmap } {
  if (a.name === '') throw QmpError.generic('Bitmap name cannot be empty');
  const node = graph.lookup(a.node, a.node);
  let granularity: number;
  if (a.granularity !== undefined) {
    granularity = a.granularity;
    if (granularity < MIN_GRANULARITY || (granularity & (granularity - 1)) !== 0) {
      throw QmpError.generic('Granularity must be power of 2 and at least 512');
    }
  } else {
    granularity = defaultGranularity(node);
  }
  if (a.persistent && !node.instance.storeBitmaps) {
    throw QmpError.generic(`Can't store persistent bitmaps to ${node.nodeName}: Operation not supported`);
  }
  if (node.bitmaps.some((b) => b.name === a.name)) throw QmpError.generic(`Bitmap already exists: ${a.name}`);
  if (a.name.length > MAX_BITMAP_NAME) throw QmpError.generic(`Bitmap name too long: ${a.name}`);
  const bitmap = new DirtyBitmap(a.name, granularity, node.length(), {
    recording: !a.disabled,
    persistent: a.persistent ?? false,
  });
  node.bitmaps.unshift(bitmap);
  return { node, bitmap };
}

/** block_dirty_bitmap_remove(): the checks, then a persistent bitmap leaves the image at once. */
export async function removeBitmapChecked(graph: BlockGraph, nodeName: string, name: string): Promise<{ node: BlockNode; bitmap: DirtyBitmap }> {
  const { node, bitmap } = lookupBitmap(graph, nodeName, name);
  checkBitmap(bitmap, CHECK_BUSY | CHECK_RO);
  if (bitmap.persistent) {
    await node.instance.removeStoredBitmap?.(name);
    bitmap.inImage = false;
  }
  return { node, bitmap };
}

export function releaseBitmap(node: BlockNode, bitmap: DirtyBitmap): void {
  const i = node.bitmaps.indexOf(bitmap);
  if (i >= 0) node.bitmaps.splice(i, 1);
}

export type BitmapRef = string | { node: string; name: string };

/** The sources of a merge: names on the target's node, or {node, name} anywhere. */
export function mergeSources(graph: BlockGraph, targetNode: BlockNode, refs: readonly BitmapRef[]): DirtyBitmap[] {
  return refs.map((ref) => {
    if (typeof ref === 'string') {
      const b = targetNode.bitmaps.find((x) => x.name === ref);
      if (!b) throw QmpError.generic(`Dirty bitmap '${ref}' not found`);
      checkBitmap(b, CHECK_ALLOW_RO);
      return b;
    }
    const { bitmap } = lookupBitmap(graph, ref.node, ref.name);
    checkBitmap(bitmap, CHECK_ALLOW_RO);
    return bitmap;
  });
}

/** Merges the sources into the target; returns the target's old bits (for an abort). */
export function mergeBitmaps(
  graph: BlockGraph,
  nodeName: string,
  target: string,
  refs: readonly BitmapRef[],
): { bitmap: DirtyBitmap; bits: Uint8Array } {
  const { node, bitmap } = lookupBitmap(graph, nodeName, target);
  checkBitmap(bitmap, CHECK_DEFAULT);
  const sources = mergeSources(graph, node, refs);
  // hbitmap_can_merge(): bitmaps of nodes of different sizes cannot be merged
  if (sources.some((s) => s.coveredSize !== bitmap.coveredSize)) {
    throw QmpError.generic("Bitmaps are incompatible and can't be merged");
  }
  const bits = bitmap.snapshotBits();
  for (const s of sources) if (s !== bitmap) bitmap.merge(s);
  return { bitmap, bits };
}
