/**
 * zstd clusters decode as QEMU's qcow2_zstd_decompress() decides: frames one
 * after another until exactly one cluster came out; anything else fails the
 * read, without decoding more than a cluster. Frames built here by hand (raw
 * and RLE blocks) are valid zstd that any decoder reads.
 */
import { describe, expect, it } from 'vitest';
import { zstdCluster } from '../../../../src/block/drivers/qcow2/zstd.js';

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function blockHeader(last: boolean, type: number, size: number): number[] {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3);
  return [h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff];
}

/** A single-segment frame with a 4-byte content size and one raw block. */
function rawFrame(data: Buffer, contentSize = data.length): Buffer {
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(contentSize);
  return Buffer.from([...MAGIC, 0xa0, ...fcs, ...blockHeader(true, 0, data.length), ...data]);
}

/** A frame with a window descriptor and no content size, of `blocks` RLE blocks of `size` bytes each. */
function rleFrame(byte: number, size: number, blocks: number, windowDescriptor = 0x38): Buffer {
  const body: number[] = [];
  for (let i = 0; i < blocks; i++) body.push(...blockHeader(i === blocks - 1, 1, size), byte);
  return Buffer.from([...MAGIC, 0x00, windowDescriptor, ...body]);
}

describe('zstd clusters', () => {
  const cs = 4096;
  const a = Buffer.alloc(1024, 0x61);
  const b = Buffer.alloc(3072, 0x62);

  it('joins frames until the cluster is full and ignores what follows', () => {
    const input = Buffer.concat([rawFrame(a), rleFrame(0x62, 3072, 1), Buffer.alloc(300, 0xee)]);
    expect(zstdCluster(input, cs)).toEqual(Buffer.concat([a, b]));
    // a skippable frame in between is skipped
    const skip = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]);
    expect(zstdCluster(Buffer.concat([rawFrame(a), skip, rawFrame(b)]), cs)).toEqual(Buffer.concat([a, b]));
  });

  it('fails a frame that gives more than the cluster, or input that ends first', () => {
    expect(zstdCluster(Buffer.concat([rawFrame(a), rawFrame(Buffer.alloc(3073))]), cs)).toBeUndefined();
    expect(zstdCluster(rawFrame(a), cs)).toBeUndefined();
    expect(zstdCluster(rawFrame(Buffer.alloc(cs)).subarray(0, 100), cs)).toBeUndefined();
    expect(zstdCluster(Buffer.alloc(64, 0xff), cs)).toBeUndefined();
  });

  it('refuses sizes no decoder should allocate, before decoding', () => {
    // a content size beyond the cluster
    expect(zstdCluster(rawFrame(Buffer.alloc(16), 2 ** 31), cs)).toBeUndefined();
    // a window of 2^41 bytes
    expect(zstdCluster(rleFrame(0, 16, 1, 0xf8), cs)).toBeUndefined();
    // 4,000 RLE blocks of 128 KiB (500 MiB from 16 KiB of input): decoding stops at the first that overflows
    expect(zstdCluster(rleFrame(0, 128 * 1024, 4000), 65536)).toBeUndefined();
    expect(zstdCluster(rleFrame(0x7a, 64 * 1024, 1), 65536)).toEqual(Buffer.alloc(65536, 0x7a));
  });
});
