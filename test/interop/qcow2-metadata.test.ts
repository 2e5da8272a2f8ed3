/**
 * qcow2 metadata operations against QEMU's view of the result: backing file
 * changes, growing, image info, per-layer block status after qmpd's writes,
 * internal snapshots, and zstd images.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatQcow2, type Qcow2CreateOptions } from '../../src/block/drivers/qcow2/create.js';
import { FileChild, InstanceChild } from '../helpers/file-child.js';
import { openQcow2 } from '../helpers/qcow2.js';
import { mustRun, qemuImgCheck, qemuImgInfo, qemuIo, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';
import { refusal } from '../helpers/refusal.js';

const MiB = 1024 * 1024;

async function newImage(path: string, opts: Qcow2CreateOptions): Promise<void> {
  writeFileSync(path, '');
  const f = await FileChild.open(path);
  await formatQcow2(f, opts);
  await f.close();
}

function expectClean(path: string): void {
  const c = qemuImgCheck(path);
  expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks }).toEqual({ status: 0, corruptions: 0, leaks: 0 });
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('qcow2 metadata seen by QEMU', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  for (const compat of ['1.1', '0.10'] as const) {
    it(`changes and removes the backing file reference (compat ${compat})`, async () => {
      const path = tmp.path(`rebase-${compat}.qcow2`);
      const newBase = tmp.path('a-much-longer-name-for-the-new-base-image.raw');
      writeFileSync(newBase, Buffer.alloc(8 * MiB));
      await newImage(path, { size: 8 * MiB, compat, backingFile: 'old.qcow2', backingFormat: 'qcow2' });
      const img = await openQcow2(path);
      await img.instance.write!(MiB, Buffer.alloc(MiB, 3), {});
      await img.instance.setBackingReference!(newBase, 'raw');
      expect(img.instance.backingReference!()).toEqual({ filename: newBase, format: 'raw' });
      await img.close();
      let info = qemuImgInfo(path, ['-U']);
      expect([info['backing-filename'], info['backing-filename-format']]).toEqual([newBase, 'raw']);
      expectClean(path);

      const again = await openQcow2(path);
      await again.instance.setBackingReference!(null, null);
      await again.close();
      info = qemuImgInfo(path);
      expect(info['backing-filename']).toBeUndefined();
      expectClean(path);
      expect(qemuIo(path, ['read -P 3 1M 1M'])).toContain('read 1048576/1048576');
    });
  }

  it('writes cluster 0 exactly as qemu-img rebase -u does', async () => {
    for (const opts of [['-o', 'cluster_size=4096'], ['-o', 'compat=0.10'], []]) {
      const theirs = tmp.path('rebase-theirs.qcow2');
      const ours = tmp.path('rebase-ours.qcow2');
      mustRun('qemu-img', ['create', '-u', '-f', 'qcow2', ...opts, '-b', 'first.raw', '-F', 'raw', theirs, '4M']);
      mustRun('cp', [theirs, ours]);
      mustRun('qemu-img', ['rebase', '-u', '-b', 'second/base.qcow2', '-F', 'qcow2', theirs]);
      const img = await openQcow2(ours);
      await img.instance.setBackingReference!('second/base.qcow2', 'qcow2');
      await img.close();
      expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
    }
  });

  it('refuses a backing name that does not fit into cluster 0', async () => {
    const path = tmp.path('small-cluster.qcow2');
    await newImage(path, { size: MiB, clusterSize: 512 });
    const img = await openQcow2(path);
    expect(await refusal(img.instance.setBackingReference!('/' + 'x'.repeat(420), 'raw'))).toBe('No space left on device');
    await img.close();
    expect(qemuImgInfo(path)['backing-filename']).toBeUndefined();
  });

  it('grows an image, moving its L1 table, and zeroes the new area over a backing file', async () => {
    const base = tmp.path('grow-base.qcow2');
    const path = tmp.path('grow.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', base, '64M']);
    qemuIo(base, ['write -P 0x11 0 64M']);
    await newImage(path, { size: 1 * MiB, clusterSize: 4096, backingFile: base, backingFormat: 'qcow2' });
    const b = await openQcow2(base, { readOnly: true });
    const img = await openQcow2(path, { backing: new InstanceChild('base', b.instance) });
    await img.instance.write!(0, Buffer.alloc(8192, 0x22), {});
    await img.instance.truncate!(48 * MiB); // 2 MiB per L2 table: 24 L1 entries, more than one L1 cluster
    expect(img.instance.length()).toBe(48 * MiB);
    const buf = Buffer.alloc(MiB);
    await img.instance.read(40 * MiB, buf);
    expect(buf.every((x) => x === 0)).toBe(true);
    await img.instance.write!(47 * MiB, Buffer.alloc(4096, 0x33), {});
    await img.close();
    await b.close();
    expect(qemuImgInfo(path)['virtual-size']).toBe(48 * MiB);
    expectClean(path);
    expect(qemuIo(path, ['read -P 0x22 0 8k', 'read -P 0x11 8k 1016k', 'read -P 0 1M 46M', 'read -P 0x33 47M 4k'])).not.toContain('fail');
  });

  it('reports the format-specific data qemu-img info shows', async () => {
    for (const [name, args] of [
      ['v3.qcow2', ['-o', 'lazy_refcounts=on,refcount_bits=32']],
      ['v2.qcow2', ['-o', 'compat=0.10']],
    ] as const) {
      const path = tmp.path(name);
      mustRun('qemu-img', ['create', '-f', 'qcow2', ...args, path, '16M']);
      const info = qemuImgInfo(path) as { 'cluster-size': number; 'dirty-flag': boolean; 'format-specific': unknown };
      const img = await openQcow2(path, { readOnly: true });
      const ours = img.instance.imageInfo!()!;
      await img.close();
      expect(ours).toEqual({ clusterSize: info['cluster-size'], formatSpecific: info['format-specific'], dirtyFlag: info['dirty-flag'] });
      expect(JSON.stringify(ours.formatSpecific)).toBe(JSON.stringify(info['format-specific']));
    }
  });

  it('reports per-layer block status after its own writes as qemu-img map does', async () => {
    const path = tmp.path('status.qcow2');
    await newImage(path, { size: 16 * MiB, clusterSize: 65536 });
    const img = await openQcow2(path);
    await img.instance.write!(0, Buffer.alloc(3 * 65536, 1), {});
    await img.instance.writeZeroes!(MiB, MiB, { mayUnmap: false });
    await img.instance.write!(4 * MiB, Buffer.alloc(65536, 1), {});
    await img.instance.writeZeroes!(4 * MiB, 65536, { mayUnmap: true });
    await img.instance.write!(8 * MiB, Buffer.alloc(65536, 1), {});
    const ours: string[] = [];
    for (let off = 0; off < 16 * MiB; ) {
      const s = await img.instance.blockStatus!(off, 16 * MiB - off);
      ours.push(`${off}+${s.length}:${s.status}`);
      off += s.length;
    }
    await img.close();
    const map = JSON.parse(mustRun('qemu-img', ['map', '--output=json', path])) as { start: number; length: number; present: boolean; data: boolean }[];
    const theirs = map.map((e) => `${e.start}+${e.length}:${!e.present ? 'unallocated' : e.data ? 'data' : 'zero'}`);
    expect(ours).toEqual(theirs);
  });

  it('reads and writes images with internal snapshots, leaving the snapshot as it was', async () => {
    const path = tmp.path('snap.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '4M']);
    qemuIo(path, ['write -P 1 0 1M']);
    mustRun('qemu-img', ['snapshot', '-c', 's1', path]);
    qemuIo(path, ['write -P 2 0 64k']);
    const img = await openQcow2(path);
    const buf = Buffer.alloc(MiB);
    await img.instance.read(0, buf);
    await img.instance.write!(65536, Buffer.alloc(65536, 3), {});
    await img.close();
    expect(buf.subarray(0, 65536).every((x) => x === 2)).toBe(true);
    expect(buf.subarray(65536).every((x) => x === 1)).toBe(true);
    expect(qemuImgCheck(path).status).toBe(0);
    qemuIo(path, ['read -P 2 0 64k', 'read -P 3 64k 64k', 'read -P 1 128k 896k']);
    mustRun('qemu-img', ['snapshot', '-a', 's1', path]);
    qemuIo(path, ['read -P 1 0 1M']);
  });

  it('reads zstd-compressed clusters and rewrites one that is partly overwritten', async () => {
    const path = tmp.path('zstd.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'compression_type=zstd', path, '4M']);
    qemuIo(path, ['write -c -P 7 0 128k', 'write -P 8 1M 64k']);
    const img = await openQcow2(path);
    const buf = Buffer.alloc(128 * 1024);
    await img.instance.read(0, buf);
    expect(buf.every((x) => x === 7)).toBe(true);
    await img.instance.write!(4096, Buffer.alloc(512, 9), {});
    expect((img.instance.imageInfo!()!.formatSpecific?.data ?? {})['compression-type']).toBe('zstd');
    await img.close();
    expect(qemuImgCheck(path).status).toBe(0);
    qemuIo(path, ['read -P 7 0 4k', 'read -P 9 4k 512', 'read -P 7 4608 126464', 'read -P 8 1M 64k']);
  });

  it('rewrites compressed clusters QEMU wrote when they are partly overwritten', async () => {
    const path = tmp.path('zlib.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '4M']);
    qemuIo(path, ['write -c -P 7 0 128k']);
    const img = await openQcow2(path);
    await img.instance.write!(4096, Buffer.alloc(512, 9), {});
    await img.instance.writeZeroes!(65536, 65536, { mayUnmap: true });
    await img.close();
    expectClean(path);
    expect(qemuIo(path, ['read -P 7 0 4k', 'read -P 9 4k 512', 'read -P 7 4608 60928', 'read -P 0 64k 64k'])).not.toContain('fail');
  });

  it('marks an image corrupt, as QEMU does, when an L2 entry turns out to be misaligned', async () => {
    const path = tmp.path('misaligned.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '4M']);
    qemuIo(path, ['write -P 1 0 64k']);
    const bytes = readFileSync(path);
    // L1 at 0x30000 -> L2 at 0x40000; its first entry gets a data offset inside a cluster
    bytes.writeBigUInt64BE(bytes.readBigUInt64BE(0x40000) | 0x200n, 0x40000);
    writeFileSync(path, bytes);
    const img = await openQcow2(path);
    expect(await refusal(img.instance.read(0, Buffer.alloc(512)))).toBe(
      'qcow2: Image is corrupt: Cluster allocation offset 0x50200 unaligned (L2 offset: 0x40000, L2 index: 0)',
    );
    expect(await refusal(img.instance.write!(MiB, Buffer.alloc(512), {}))).toBe('qcow2: Image is corrupt; cannot be opened read/write');
    await img.close();
    const info = qemuImgInfo(path) as { 'format-specific': { data: { corrupt: boolean } } };
    expect(info['format-specific'].data.corrupt).toBe(true);
  });

  it('switches between read-only and read-write, flushing before it becomes read-only', async () => {
    const path = tmp.path('reopen.qcow2');
    await newImage(path, { size: 4 * MiB });
    const img = await openQcow2(path);
    await img.instance.write!(0, Buffer.alloc(65536, 5), {});
    await img.instance.reopen!(true);
    expectClean(path);
    expect(await refusal(img.instance.write!(0, Buffer.alloc(512), {}))).toBe('Block node is read-only');
    await img.instance.reopen!(false);
    await img.instance.write!(65536, Buffer.alloc(65536, 6), {});
    await img.close();
    expectClean(path);
    expect(qemuIo(path, ['read -P 5 0 64k', 'read -P 6 64k 64k'])).not.toContain('fail');
  });
});
