/**
 * NBD_CMD_BLOCK_STATUS: one BLOCK_STATUS chunk per selected context, in id
 * order, DONE on the last. Extents from the backend are clamped to the
 * request, merged while their flags are equal (QEMU's nbd_extent_array_add),
 * and capped: one extent with REQ_ONE, else 1 MiB worth of extents. A reply
 * may describe less than the requested length; the client asks again.
 */
import type { NbdExportBackend } from './backend.js';
import { errnoError } from './errno.js';
import {
  MAX_BLOCK_STATUS_EXTENTS,
  NBD_STATE_DIRTY,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
} from './constants.js';
import { META_ID_ALLOCATION_DEPTH, META_ID_BASE_ALLOCATION, META_ID_DIRTY_BITMAP, type MetaSelection } from './meta-context.js';
import { blockStatusChunk, type Handle } from './replies.js';

/** Backend calls one reply may make per context before it answers with what it has. */
const MAX_STATUS_CALLS = 4096;
const U32_MAX = 0xffff_ffff;

type Fetch = (offset: number, length: number) => Promise<{ length: number; flags: number }[]>;

/** (length, flags) pairs for [offset, offset + length), at most `max` extents. */
export async function collectExtents(fetch: Fetch, offset: number, length: number, max: number): Promise<number[]> {
  const pairs: number[] = [];
  const end = offset + length;
  let pos = offset;
  for (let calls = 0; pos < end && calls < MAX_STATUS_CALLS; calls++) {
    const list = await fetch(pos, end - pos);
    if (list.length === 0) throw errnoError('EIO', 'block status returned no extent');
    for (const e of list) {
      const len = Math.min(e.length, end - pos);
      if (!(len > 0) || !Number.isInteger(len)) throw errnoError('EIO', `bad extent length ${e.length}`);
      const n = pairs.length;
      if (n > 0 && pairs[n - 1] === e.flags && pairs[n - 2]! + len <= U32_MAX) {
        pairs[n - 2]! += len;
      } else {
        if (n / 2 >= max) return pairs;
        pairs.push(len, e.flags);
      }
      pos += len;
      if (pos >= end) break;
    }
  }
  return pairs;
}

function allocationFetch(backend: NbdExportBackend): Fetch {
  return async (offset, length) =>
    (await backend.blockStatus(offset, length)).map((e) => ({
      length: e.length,
      flags: (e.hole ? NBD_STATE_HOLE : 0) | (e.zero ? NBD_STATE_ZERO : 0),
    }));
}

function depthFetch(backend: NbdExportBackend): Fetch {
  if (!backend.allocationDepth) return async (_offset, length) => [{ length, flags: 1 }];
  const depth = backend.allocationDepth.bind(backend);
  return async (offset, length) => (await depth(offset, length)).map((e) => ({ length: e.length, flags: e.depth >>> 0 }));
}

function bitmapFetch(backend: NbdExportBackend, name: string): Fetch {
  const source = backend.dirtyBitmap?.(name);
  if (!source) throw errnoError('EINVAL', `dirty bitmap '${name}' is gone`);
  return async (offset, length) =>
    (await source.extents(offset, length)).map((e) => ({ length: e.length, flags: e.dirty ? NBD_STATE_DIRTY : 0 }));
}

/** The chunks answering one BLOCK_STATUS request; throws the backend's error. */
export async function blockStatusReply(
  backend: NbdExportBackend,
  meta: MetaSelection,
  h: Handle,
  offset: number,
  length: number,
  reqOne: boolean,
): Promise<Buffer[]> {
  const max = reqOne ? 1 : MAX_BLOCK_STATUS_EXTENTS;
  const contexts: { id: number; fetch: Fetch }[] = [];
  if (meta.base) contexts.push({ id: META_ID_BASE_ALLOCATION, fetch: allocationFetch(backend) });
  if (meta.depth) contexts.push({ id: META_ID_ALLOCATION_DEPTH, fetch: depthFetch(backend) });
  backend.bitmaps.forEach((name, i) => {
    if (meta.bitmaps[i]) contexts.push({ id: META_ID_DIRTY_BITMAP + i, fetch: bitmapFetch(backend, name) });
  });
  const chunks: Buffer[] = [];
  for (let i = 0; i < contexts.length; i++) {
    const c = contexts[i]!;
    const pairs = await collectExtents(c.fetch, offset, length, max);
    chunks.push(blockStatusChunk(h, c.id, pairs, i === contexts.length - 1));
  }
  return chunks;
}
