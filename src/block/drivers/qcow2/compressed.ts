/**
 * Compressed clusters (docs/qcow2-format.md §5): a raw deflate stream (zlib
 * without header, as QEMU writes it) inflating to exactly one cluster, or
 * zstd frames (compression type 1, zstd.ts).
 */
import { promisify } from 'node:util';
import { constants, inflateRaw } from 'node:zlib';
import type { CompressedRange } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';
import { zstdCluster } from './zstd.js';

const inflateRawAsync = promisify(inflateRaw);

interface CachedCluster {
  offset: number;
  generation: number;
  data: Promise<Buffer>;
}

/**
 * The last decompressed cluster per image, as QEMU keeps one: small reads
 * walking through a compressed cluster would otherwise inflate it each time.
 * It is dropped once any cluster was allocated (a freed range may be reused).
 */
const lastCluster = new WeakMap<Qcow2Image, CachedCluster>();

/** Decompresses the cluster at guest offset `guest` (for the error text). */
export function readCompressedCluster(img: Qcow2Image, comp: CompressedRange, guest: number): Promise<Buffer> {
  const hit = lastCluster.get(img);
  const generation = img.allocator.generation;
  if (hit !== undefined && hit.offset === comp.offset && hit.generation === generation) return hit.data;
  const data = inflateCluster(img, comp, guest);
  lastCluster.set(img, { offset: comp.offset, generation, data });
  // the caller gets the failure through `data`; this only forgets the failed entry
  data.catch(() => {
    if (lastCluster.get(img)?.data === data) lastCluster.delete(img);
  });
  return data;
}

async function inflateCluster(img: Qcow2Image, comp: CompressedRange, guest: number): Promise<Buffer> {
  const input = Buffer.alloc(comp.length);
  await img.file.read(comp.offset, input);
  if (img.header.compressionType === 1) {
    const out = zstdCluster(input, img.cs);
    if (!out) throw E.decompress(guest);
    return out;
  }
  let out: Buffer;
  try {
    // the stream is followed by sector padding; a sync flush tolerates both that and a short tail
    out = await inflateRawAsync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: img.cs });
  } catch (err) {
    throw Object.assign(E.decompress(guest), { cause: err });
  }
  if (out.length !== img.cs) throw E.decompress(guest);
  return out;
}

/** Host clusters a compressed stream touches (each holds one reference for it). */
export function compressedClusters(comp: CompressedRange, cs: number): { start: number; count: number } {
  const first = Math.floor(comp.offset / cs);
  const last = Math.floor((comp.offset + comp.length - 1) / cs);
  return { start: first, count: last - first + 1 };
}
