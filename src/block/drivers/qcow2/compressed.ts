/**
 * Compressed clusters (docs/qcow2-format.md §5): a raw deflate stream (zlib
 * without header, as QEMU writes it) inflating to exactly one cluster. zstd
 * streams are refused: Node.js 20 has no zstd.
 */
import { promisify } from 'node:util';
import { constants, inflateRaw } from 'node:zlib';
import type { CompressedRange } from './entries.js';
import { qcow2Errors as E } from './errors.js';
import type { Qcow2Image } from './image.js';

const inflateRawAsync = promisify(inflateRaw);

/** Decompresses the cluster at guest offset `guest` (for the error text). */
export async function readCompressedCluster(img: Qcow2Image, comp: CompressedRange, guest: number): Promise<Buffer> {
  if (img.header.compressionType !== 0) throw E.zstdRead();
  const input = Buffer.alloc(comp.length);
  await img.file.read(comp.offset, input);
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
