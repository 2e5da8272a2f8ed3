/**
 * Shrinking qcow2 images with qmpd's driver against `qemu-img resize
 * --shrink` (the same qcow2_co_truncate as QSD's block_resize): the same
 * file, byte for byte or (where freed clusters keep stale bytes) in every
 * cluster still in use; a clean `qemu-img check`; snapshots of the larger
 * size kept whole; and QEMU's refusal for v2 images with snapshots.
 */
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { QmpError } from '../../src/qmp/error.js';
import { openQcow2 } from '../helpers/qcow2.js';
import { contentAt, structure } from '../helpers/qcow2-snapshot-tools.js';
import { mustRun, qemuImgCheck, qemuIo, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function shrinkBoth(tmp: ReturnType<typeof tempDir>, name: string, sizes: number[]): Promise<{ ours: string; theirs: string }> {
  const theirs = tmp.path(`${name}-theirs.qcow2`);
  const ours = tmp.path(`${name}-ours.qcow2`);
  copyFileSync(tmp.path(`${name}.qcow2`), theirs);
  copyFileSync(tmp.path(`${name}.qcow2`), ours);
  for (const s of sizes) mustRun('qemu-img', ['resize', '-f', 'qcow2', '--shrink', theirs, String(s)]);
  const img = await openQcow2(ours);
  for (const s of sizes) await img.instance.truncate!(s);
  expect(img.instance.length()).toBe(sizes[sizes.length - 1]);
  await img.close();
  expect(qemuImgCheck(ours)).toMatchObject({ status: 0, corruptions: 0, leaks: 0 });
  return { ours, theirs };
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('shrinking qcow2 images', () => {
  const tmp = tempDir('qmpd-shrink-');
  afterAll(() => tmp.remove());

  it('drops the clusters past the new end, keeps the L1 table and cuts the file as qemu-img does', async () => {
    mustRun('qemu-img', ['create', '-f', 'qcow2', tmp.path('big.qcow2'), '1G']);
    qemuIo(tmp.path('big.qcow2'), ['write -P 1 0 1M', 'write -P 2 600M 2M', 'write -P 3 1000M 64k']);
    const { ours, theirs } = await shrinkBoth(tmp, 'big', [600 * MiB + 4096, 300 * MiB]);
    expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
    expect(statSync(ours).size).toBeLessThan(2 * MiB);
    expect(qemuIo(ours, ['read -P 1 0 1M', 'read -P 0 1M 299M'])).not.toMatch(/fail/i);
  });

  it('takes refcount blocks that count nothing any more out of the refcount table (512-byte clusters)', async () => {
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=512', tmp.path('small.qcow2'), '4M']);
    qemuIo(tmp.path('small.qcow2'), ['write -P 1 0 1M', 'write -P 2 3M 512k']);
    const { ours, theirs } = await shrinkBoth(tmp, 'small', [MiB]);
    expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
    expect(qemuIo(ours, ['read -P 1 0 1M'])).not.toMatch(/fail/i);
  });

  it('keeps the part of the last cluster that stays when shrinking to mid-cluster', async () => {
    mustRun('qemu-img', ['create', '-f', 'qcow2', tmp.path('mid.qcow2'), '2M']);
    qemuIo(tmp.path('mid.qcow2'), ['write -P 9 0 2M']);
    const { ours, theirs } = await shrinkBoth(tmp, 'mid', [MiB + 512]);
    expect(structure(ours).equals(structure(theirs))).toBe(true);
    expect(qemuIo(ours, ['read -P 9 0 1049088'])).not.toMatch(/fail/i);
  });

  it('shrinks an image with a snapshot and leaves the snapshot whole at its own size', async () => {
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=4096', tmp.path('snap.qcow2'), '4M']);
    qemuIo(tmp.path('snap.qcow2'), ['write -P 4 0 4M']);
    mustRun('qemu-img', ['snapshot', '-c', 'whole', tmp.path('snap.qcow2')]);
    qemuIo(tmp.path('snap.qcow2'), ['write -P 5 3M 8k']);
    const { ours, theirs } = await shrinkBoth(tmp, 'snap', [2 * MiB, MiB]);
    expect(structure(ours).equals(structure(theirs))).toBe(true);
    expect(contentAt(ours, 'whole', tmp.path('snap-r.qcow2')).equals(Buffer.alloc(4 * MiB, 4))).toBe(true);
    // and it grows again with zeroes in the new part, still sharing nothing it should not
    const img = await openQcow2(ours);
    await img.instance.truncate!(3 * MiB);
    await img.instance.write!(MiB, Buffer.alloc(4 * KiB, 6), {});
    await img.close();
    expect(qemuImgCheck(ours).status).toBe(0);
    expect(qemuIo(ours, ['read -P 4 0 1M', 'read -P 6 1M 4k', 'read -P 0 1052672 2093056'])).not.toMatch(/fail/i);
  });

  it("refuses to resize a v2 image that has snapshots, as QEMU: Can't resize a v2 image which has snapshots", async () => {
    const path = tmp.path('v2.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'compat=0.10', path, '1M']);
    mustRun('qemu-img', ['snapshot', '-c', 's', path]);
    const before = readFileSync(path);
    const img = await openQcow2(path);
    for (const size of [2 * MiB, 512 * KiB]) {
      const err = await img.instance.truncate!(size).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QmpError);
      expect((err as QmpError).desc).toBe("Can't resize a v2 image which has snapshots");
    }
    await img.close();
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
