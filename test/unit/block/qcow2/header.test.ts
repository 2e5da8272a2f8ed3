import { describe, expect, it } from 'vitest';
import { parseHeader, type Qcow2Header } from '../../../../src/block/drivers/qcow2/header.js';
import { buildHeaderCluster, FEATURE_TABLE } from '../../../../src/block/drivers/qcow2/header-write.js';
import { QmpError } from '../../../../src/qmp/error.js';

function header(over: Partial<Qcow2Header> = {}): Qcow2Header {
  return {
    version: 3,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits: 16,
    size: 64 * 1024 * 1024,
    cryptMethod: 0,
    l1Size: 1,
    l1TableOffset: 0x30000,
    refcountTableOffset: 0x10000,
    refcountTableClusters: 1,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: 112,
    compressionType: 0,
    unknownHeaderFields: Buffer.alloc(0),
    backingFile: null,
    backingFormat: null,
    featureNames: [],
    bitmaps: null,
    hasCryptoExtension: false,
    hasDataFileExtension: false,
    unknownExtensions: [],
    ...over,
  };
}

describe('the qcow2 header', () => {
  it('round-trips through build and parse, backing file and format included', () => {
    const h = header({ backingFile: 'dir/base.qcow2', backingFormat: 'qcow2' });
    const parsed = parseHeader(buildHeaderCluster(h), false);
    expect(parsed.backingFile).toBe('dir/base.qcow2');
    expect(parsed.backingFormat).toBe('qcow2');
    expect(parsed.size).toBe(h.size);
    expect(parsed.featureNames.map((f) => [f.type, f.bit, f.name])).toEqual(FEATURE_TABLE);
  });

  it('places the backing name right after the end-of-extensions marker, as QEMU does', () => {
    const buf = buildHeaderCluster(header({ backingFile: 'base.qcow2', backingFormat: 'qcow2' }));
    expect(buf.readBigUInt64BE(8)).toBe(0x210n);
    expect(buf.readUInt32BE(16)).toBe(10);
    expect(buf.readUInt32BE(0x70)).toBe(0xe2792aca);
    expect(buf.readBigUInt64BE(0x208)).toBe(0n);
  });

  it('keeps unknown header fields and unknown extensions when rewriting the header', () => {
    const h = header({
      headerLength: 120,
      unknownHeaderFields: Buffer.from('ABCDEFGH'),
      unknownExtensions: [{ type: 0x12345678, data: Buffer.from('hello') }],
    });
    const parsed = parseHeader(buildHeaderCluster(h), false);
    expect(parsed.headerLength).toBe(120);
    expect(parsed.unknownHeaderFields.toString()).toBe('ABCDEFGH');
    expect(parsed.unknownExtensions).toEqual([{ type: 0x12345678, data: Buffer.from('hello') }]);
  });

  it('ignores a bitmaps extension whose autoclear bit was cleared by another program', () => {
    const ext = { nbBitmaps: 1, directorySize: 32, directoryOffset: 0x50000 };
    expect(parseHeader(buildHeaderCluster(header({ bitmaps: ext, autoclear: 1n })), false).bitmaps).toEqual(ext);
    expect(parseHeader(buildHeaderCluster(header({ bitmaps: ext })), false).bitmaps).toBeNull();
  });

  it('writes a v2 header of 72 bytes without a feature table', () => {
    const buf = buildHeaderCluster(header({ version: 2, backingFile: 'b', backingFormat: 'raw' }));
    expect(buf.readUInt32BE(0x48)).toBe(0xe2792aca);
    expect(buf.readBigUInt64BE(8)).toBe(0x60n);
    expect(buf.subarray(72, 104).readBigUInt64BE(0)).not.toBe(0n);
    expect(parseHeader(buf, false).version).toBe(2);
  });

  it('refuses a backing name that does not fit into the header cluster', () => {
    expect(() => buildHeaderCluster(header({ clusterBits: 9, size: 0, l1Size: 0, backingFile: 'x'.repeat(400), backingFormat: 'raw' }))).toThrow(QmpError);
  });
});
