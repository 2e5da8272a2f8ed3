/**
 * zstd-compressed qcow2 clusters (compression type 1), decoded as QEMU's
 * qcow2_zstd_decompress() does: frames one after another until exactly one
 * cluster has come out; what follows (sector padding) is not looked at. A
 * frame that would give more than the cluster, a truncated or invalid one,
 * or input that ends first fails the read. fzstd decodes each frame; the
 * frame headers are read here first, so that no crafted size can make it
 * allocate more than libzstd would accept.
 */
import { Decompress } from 'fzstd';

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F, a 32-bit size, that many bytes. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** libzstd's default limit for decoding (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27). */
const MAX_WINDOW = 1 << 27;

interface FrameExtent {
  end: number;
  skippable: boolean;
  /** Window size a decoder must keep (the content size for single-segment frames). */
  window: number;
  contentSize: number | undefined;
}

/** Where the frame at `at` ends, from its header and block headers; undefined if it is not whole. */
function frameExtent(input: Uint8Array, at: number): FrameExtent | undefined {
  if (at + 8 > input.length) return undefined;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const magic = view.getUint32(at, true);
  if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
    const end = at + 8 + view.getUint32(at + 4, true);
    return end <= input.length ? { end, skippable: true, window: 0, contentSize: undefined } : undefined;
  }
  if (magic !== ZSTD_MAGIC) return undefined;
  const fhd = input[at + 4]!;
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsFlag = fhd >> 6;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  let p = at + 5;
  let window = 0;
  if (!single) {
    const wd = input[p++]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  p += dictBytes;
  if (p + fcsBytes > input.length) return undefined;
  let contentSize: number | undefined;
  if (fcsBytes > 0) {
    contentSize = 0;
    for (let i = fcsBytes - 1; i >= 0; i--) contentSize = contentSize * 256 + input[p + i]!;
    if (fcsBytes === 2) contentSize += 256;
  }
  p += fcsBytes;
  if (single) window = contentSize ?? 0;
  for (;;) {
    if (p + 3 > input.length) return undefined;
    const header = input[p]! | (input[p + 1]! << 8) | (input[p + 2]! << 16);
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    p += 3 + (type === 1 ? 1 : size);
    if (type === 3 || p > input.length) return undefined;
    if (header & 1) break;
  }
  p += checksum * 4;
  return p <= input.length ? { end: p, skippable: false, window, contentSize } : undefined;
}

/** One cluster of `clusterSize` bytes out of `input`, or undefined where QEMU's read fails. */
export function zstdCluster(input: Uint8Array, clusterSize: number): Buffer | undefined {
  const out = Buffer.alloc(clusterSize);
  let produced = 0;
  let at = 0;
  while (produced < clusterSize) {
    const frame = frameExtent(input, at);
    if (!frame) return undefined;
    if (!frame.skippable) {
      if (frame.window > MAX_WINDOW) return undefined;
      if (frame.contentSize !== undefined && frame.contentSize > clusterSize - produced) return undefined;
      const decoder = new Decompress((chunk) => {
        // more than the cluster: stop decoding at once (the read fails below)
        if (produced + chunk.length > clusterSize) throw new RangeError('zstd frame larger than the cluster');
        out.set(chunk, produced);
        produced += chunk.length;
      });
      try {
        decoder.push(input.subarray(at, frame.end), true);
      } catch {
        // invalid data, or too much of it
        return undefined;
      }
    }
    at = frame.end;
  }
  return out;
}
