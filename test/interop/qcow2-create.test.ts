/**
 * formatQcow2 lays images out exactly as `qemu-img create -f qcow2` does:
 * the files are byte-for-byte equal, `qemu-img check` is clean and
 * `qemu-img info` shows the size, cluster size and backing file asked for.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatQcow2, type Qcow2CreateOptions } from '../../src/block/drivers/qcow2/create.js';
import { QmpError } from '../../src/qmp/error.js';
import { FileChild, MemChild } from '../helpers/file-child.js';
import { mustRun, qemuImgCheck, qemuImgInfo, tempDir, tool } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const MiB = 1024 * 1024;

const CASES: [string, string[], Qcow2CreateOptions][] = [
  ['a 64 MiB image with default options', ['64M'], { size: 64 * MiB }],
  ['an overlay naming its backing file and format', ['-b', 'base.qcow2', '-F', 'qcow2', '64M'], { size: 64 * MiB, backingFile: 'base.qcow2', backingFormat: 'qcow2' }],
  ['1 GiB with 512-byte clusters (refcount blocks after the L1 table)', ['-o', 'cluster_size=512', '1G'], { size: 1024 * MiB, clusterSize: 512 }],
  ['100 GiB with 512-byte clusters (the refcount table grows)', ['-o', 'cluster_size=512', '100G'], { size: 100 * 1024 * MiB, clusterSize: 512 }],
  ['100 MiB with 4 KiB clusters (no feature table)', ['-o', 'cluster_size=4096', '100M'], { size: 100 * MiB, clusterSize: 4096 }],
  ['10 GiB with 2 MiB clusters', ['-o', 'cluster_size=2M', '10G'], { size: 10 * 1024 * MiB, clusterSize: 2 * MiB }],
  ['a size that is not a multiple of 512', ['1000001'], { size: 1000001 }],
  ['a v2 (compat=0.10) overlay of a raw file', ['-o', 'compat=0.10', '-b', 'base.raw', '-F', 'raw', '64M'], { size: 64 * MiB, compat: '0.10', backingFile: 'base.raw', backingFormat: 'raw' }],
  ['an empty image', ['0'], { size: 0 }],
  ['1-bit refcounts', ['-o', 'refcount_bits=1', '64M'], { size: 64 * MiB, refcountBits: 1 }],
  ['64-bit refcounts', ['-o', 'refcount_bits=64', '64M'], { size: 64 * MiB, refcountBits: 64 }],
  ['the lazy-refcounts bit', ['-o', 'lazy_refcounts=on', '64M'], { size: 64 * MiB, lazyRefcounts: true }],
  ['extended L2 entries', ['-o', 'extended_l2=on', '64M'], { size: 64 * MiB, extendedL2: true }],
  ['extended L2 entries, 16 KiB clusters, 10 GiB (L1 twice as long)', ['-o', 'extended_l2=on,cluster_size=16k', '10G'], { size: 10 * 1024 * MiB, clusterSize: 16384, extendedL2: true }],
  ['extended L2 entries, 16 KiB clusters, 1 TiB (refcount blocks after the L1 table)', ['-o', 'extended_l2=on,cluster_size=16k', '1T'], { size: 1024 * 1024 * MiB, clusterSize: 16384, extendedL2: true }],
];

describe.skipIf(skipWithout('qemu-img'))('creating qcow2 images', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());
  mustRun('qemu-img', ['create', '-f', 'qcow2', tmp.path('base.qcow2'), '64M']);
  writeFileSync(tmp.path('base.raw'), Buffer.alloc(1024));

  CASES.forEach(([name, args, opts], i) => {
    it(`writes ${name} byte for byte like qemu-img create`, async () => {
      const theirs = tmp.path(`qemu-${i}.qcow2`);
      const ours = tmp.path(`qmpd-${i}.qcow2`);
      mustRun('qemu-img', ['create', '-f', 'qcow2', theirs, ...args], tmp.dir);
      writeFileSync(ours, '');
      const f = await FileChild.open(ours);
      await formatQcow2(f, opts);
      await f.close();
      expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
      const c = qemuImgCheck(ours);
      expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks }).toEqual({ status: 0, corruptions: 0, leaks: 0 });
      const info = qemuImgInfo(ours, ['-U']);
      expect(info['virtual-size']).toBe(Math.ceil(opts.size / 512) * 512);
      expect(info['cluster-size']).toBe(opts.clusterSize ?? 65536);
      expect(info['backing-filename']).toBe(opts.backingFile);
      expect(info['backing-filename-format']).toBe(opts.backingFormat);
    });
  });

  it('refuses cluster sizes QEMU refuses, with its message', async () => {
    for (const clusterSize of [256, 4 * MiB, 3000]) {
      const err = await formatQcow2(new MemChild(), { size: MiB, clusterSize }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QmpError);
      expect((err as QmpError).desc).toBe('Cluster size must be a power of two between 512 and 2048k');
    }
  });

  it('refuses extended L2 entries with clusters under 16 KiB or on v2, with qemu-img\'s messages', async () => {
    const cases: [Qcow2CreateOptions, string][] = [
      [{ size: MiB, clusterSize: 8192, extendedL2: true }, 'Extended L2 entries are only supported with cluster sizes of at least 16384 bytes'],
      [{ size: MiB, compat: '0.10', extendedL2: true }, 'Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)'],
    ];
    for (const [opts, message] of cases) {
      const err = await formatQcow2(new MemChild(), opts).catch((e: unknown) => e);
      expect((err as QmpError).desc).toBe(message);
    }
    const r = tool('qemu-img', ['create', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=8k', tmp.path('x.qcow2'), '1M']);
    expect(r.stderr).toContain(cases[0]![1]);
  });
});
