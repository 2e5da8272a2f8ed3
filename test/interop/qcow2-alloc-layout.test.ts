/**
 * Guest data lands in the host clusters QEMU 7.2 would pick: one contiguous
 * run per stretch of clusters of one L2 table (small free holes before the
 * search start are skipped, as QEMU's free_cluster_index skips them), the
 * L2 table allocated before the data of its stretch, and a stretch crossing
 * into the next table continued right after the previous run where that is
 * free. Checked against qemu-io doing the same writes to a twin image.
 */
import { copyFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openQcow2 } from '../helpers/qcow2.js';
import { mustRun, qemuImgCheck, qemuIo, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const KiB = 1024;

function map(path: string): unknown {
  return JSON.parse(mustRun('qemu-img', ['map', '--output=json', path]));
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('where qmpd puts new data clusters', () => {
  const tmp = tempDir('qmpd-alloc-layout-');
  afterAll(() => tmp.remove());

  const cases: [string, number, string[], [number, number][]][] = [
    [
      'holes of one, two and three clusters before a four-cluster write',
      4 * KiB,
      // leaves free holes of 1, 2 and 3 clusters in the file (QEMU frees them at once)
      ['write -q -P 1 0 64K', 'discard -q 8K 4K', 'discard -q 20K 8K', 'discard -q 36K 12K'],
      [[1 * 1024 * KiB, 16 * KiB], [1100 * KiB, 4 * KiB], [1200 * KiB, 8 * KiB], [3000 * KiB, 12 * KiB]],
    ],
    [
      'a write crossing into the next L2 table',
      4 * KiB,
      ['write -q -P 1 0 8K'],
      [[2048 * KiB - 8 * KiB, 24 * KiB], [4096 * KiB - 4 * KiB, 8 * KiB]],
    ],
    [
      'a write crossing a table boundary where the next cluster is taken',
      4 * KiB,
      ['write -q -P 1 0 8K', 'write -q -P 2 2044K 4K'],
      [[2040 * KiB, 4 * KiB], [2048 * KiB - 4 * KiB, 16 * KiB]],
    ],
  ];

  cases.forEach(([name, cs, prepare, writes], i) => {
    it(`puts data where QEMU does: ${name}`, async () => {
      const src = tmp.path(`src-${i}.qcow2`);
      mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${cs}`, src, String(8 * 1024 * KiB)]);
      qemuIo(src, prepare);
      const q = tmp.path(`q-${i}.qcow2`);
      const m = tmp.path(`m-${i}.qcow2`);
      copyFileSync(src, q);
      copyFileSync(src, m);
      qemuIo(q, writes.map(([off, len], k) => `write -q -P ${k + 10} ${off} ${len}`));
      const img = await openQcow2(m);
      for (const [k, [off, len]] of writes.entries()) await img.instance.write!(off, Buffer.alloc(len, k + 10), {});
      await img.close();
      const c = qemuImgCheck(m);
      expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks }).toEqual({ status: 0, corruptions: 0, leaks: 0 });
      expect(map(m)).toEqual(map(q));
      expect(c.imageEndOffset).toBe(qemuImgCheck(q).imageEndOffset);
    });
  });
});
