/**
 * Block status of this layer only: 'data' (normal or compressed clusters),
 * 'zero' (zero flag) or 'unallocated' (falls through to the backing child).
 * Adjacent clusters with the same status are merged; one call looks at a
 * bounded number of clusters so that it stays cheap on huge images.
 */
import type { BlockStatusExtent } from '../driver.js';
import { mapExtents } from './cluster-map.js';
import { Kind } from './entries.js';
import type { Qcow2Image } from './image.js';

/** At most this many clusters are classified per call (8 GiB at 64 KiB clusters). */
const STATUS_MAX_CLUSTERS = 131072;

function statusOf(kind: Kind): BlockStatusExtent['status'] {
  switch (kind) {
    case Kind.Normal:
    case Kind.Compressed:
      return 'data';
    case Kind.ZeroPlain:
    case Kind.ZeroAlloc:
      return 'zero';
    default:
      return 'unallocated';
  }
}

export async function blockStatusImage(img: Qcow2Image, offset: number, length: number): Promise<BlockStatusExtent> {
  const limit = Math.min(length, STATUS_MAX_CLUSTERS * img.cs - (offset % img.cs));
  const extents = await mapExtents(img, offset, limit);
  const status = statusOf(extents[0]!.kind);
  let len = 0;
  for (const e of extents) {
    if (statusOf(e.kind) !== status) break;
    len += e.length;
  }
  return { length: len, status };
}
