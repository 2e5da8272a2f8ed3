/**
 * qcow2 internal snapshots made, used and deleted by qmpd's driver, checked
 * with QEMU's tools: `qemu-img snapshot -l` lists them, `-a` restores their
 * data, `qemu-img check` stays clean; snapshots QEMU made are read, written
 * around and deleted; and the same sequence of operations leaves the same
 * file as QEMU's, apart from the time stamps.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openQcow2, type OpenedQcow2 } from '../helpers/qcow2.js';
import { contentAt, listed, structure } from '../helpers/qcow2-snapshot-tools.js';
import { mustRun, qemuImgCheck, qemuIo, tempDir, tool } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';
import { refusal } from '../helpers/refusal.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('qcow2 internal snapshots with QEMU', () => {
  const tmp = tempDir('qmpd-snap-');
  afterAll(() => tmp.remove());

  it('takes snapshots that qemu-img lists and restores, with writes after each kept out of it', async () => {
    const path = tmp.path('ours.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '4M']);
    qemuIo(path, ['write -P 1 0 1M']);
    const img = await openQcow2(path);
    const a = await img.instance.createSnapshot!('before');
    await img.instance.write!(64 * KiB, Buffer.alloc(4 * KiB, 2), {});
    await img.instance.writeZeroes!(256 * KiB, 128 * KiB, { mayUnmap: true });
    const b = await img.instance.createSnapshot!('after');
    await img.instance.write!(0, Buffer.alloc(2 * MiB, 3), {});
    await img.close();
    expect([a.id, b.id]).toEqual(['1', '2']);
    expect(qemuImgCheck(path)).toMatchObject({ status: 0, corruptions: 0, leaks: 0 });
    expect(listed(path)).toEqual([
      ['1', 'before'],
      ['2', 'after'],
    ]);
    expect(qemuIo(path, ['read -P 3 0 2M', 'read -P 0 2M 2M'])).not.toMatch(/fail/i);
    const first = contentAt(path, 'before', tmp.path('r1.qcow2'));
    const want = Buffer.alloc(4 * MiB);
    want.fill(1, 0, MiB);
    expect(first.equals(want)).toBe(true);
    const second = contentAt(path, 'after', tmp.path('r2.qcow2'));
    want.fill(2, 64 * KiB, 68 * KiB).fill(0, 256 * KiB, 384 * KiB);
    expect(second.equals(want)).toBe(true);
  });

  it('writes around and deletes snapshots that qemu-img took', async () => {
    const path = tmp.path('theirs.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=4096', path, '2M']);
    qemuIo(path, ['write -P 5 0 2M']);
    mustRun('qemu-img', ['snapshot', '-c', 'q1', path]);
    qemuIo(path, ['write -P 6 0 512k']);
    mustRun('qemu-img', ['snapshot', '-c', 'q2', path]);
    let img: OpenedQcow2 = await openQcow2(path);
    expect(img.instance.listSnapshots!().map((s) => [s.id, s.name, s.icount, s.diskSize])).toEqual([
      ['1', 'q1', 0, 2 * MiB],
      ['2', 'q2', 0, 2 * MiB],
    ]);
    await img.instance.write!(4 * KiB, Buffer.alloc(8 * KiB, 7), {});
    await img.instance.discard!(1 * MiB, 64 * KiB);
    const gone = await img.instance.deleteSnapshot!(undefined, 'q2');
    expect([gone.id, gone.name]).toEqual(['2', 'q2']);
    await img.close();
    expect(qemuImgCheck(path)).toMatchObject({ status: 0, corruptions: 0, leaks: 0 });
    expect(listed(path)).toEqual([['1', 'q1']]);
    const q1 = contentAt(path, 'q1', tmp.path('r3.qcow2'));
    expect(q1.equals(Buffer.alloc(2 * MiB, 5))).toBe(true);
    img = await openQcow2(path);
    await img.instance.deleteSnapshot!('1', undefined);
    await img.close();
    expect(qemuImgCheck(path)).toMatchObject({ status: 0, corruptions: 0, leaks: 0 });
    expect(listed(path)).toEqual([]);
    expect(qemuIo(path, ['read -P 6 0 4k', 'read -P 7 4k 8k', 'read -P 6 12k 500k', 'read -P 5 512k 512k', 'read -P 0 1M 64k'])).not.toMatch(
      /fail/i,
    );
  });

  it('leaves the same file as qemu-img and qemu-io for the same operations, time stamps aside', async () => {
    const ours = tmp.path('same-ours.qcow2');
    const theirs = tmp.path('same-theirs.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', theirs, '4M']);
    qemuIo(theirs, ['write -P 1 0 1M']);
    copyFileSync(theirs, ours);

    mustRun('qemu-img', ['snapshot', '-c', 's1', theirs]);
    qemuIo(theirs, ['write -P 2 64k 64k', 'write -P 3 2M 4k']);
    mustRun('qemu-img', ['snapshot', '-c', 's2', theirs]);
    mustRun('qemu-img', ['snapshot', '-d', 's1', theirs]);
    qemuIo(theirs, ['write -P 4 128k 4k', 'write -z 192k 64k', 'discard 256k 64k']);

    const img = await openQcow2(ours);
    await img.instance.createSnapshot!('s1');
    await img.instance.write!(64 * KiB, Buffer.alloc(64 * KiB, 2), {});
    await img.instance.write!(2 * MiB, Buffer.alloc(4 * KiB, 3), {});
    await img.instance.createSnapshot!('s2');
    await img.instance.deleteSnapshot!(undefined, 's1');
    await img.instance.write!(128 * KiB, Buffer.alloc(4 * KiB, 4), {});
    await img.instance.writeZeroes!(192 * KiB, 64 * KiB, {});
    await img.instance.discard!(256 * KiB, 64 * KiB);
    await img.close();

    expect(qemuImgCheck(ours).status).toBe(0);
    expect(structure(ours).equals(structure(theirs))).toBe(true);
  });

  it('shares compressed clusters with a snapshot and rewrites them as qemu-io does', async () => {
    const ours = tmp.path('comp-ours.qcow2');
    const theirs = tmp.path('comp-theirs.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', theirs, '4M']);
    qemuIo(theirs, ['write -c -P 7 0 64k', 'write -c -P 8 64k 64k', 'write -P 9 1M 64k']);
    copyFileSync(theirs, ours);
    mustRun('qemu-img', ['snapshot', '-c', 'a', theirs]);
    qemuIo(theirs, ['write -P 1 4k 4k']);
    mustRun('qemu-img', ['snapshot', '-c', 'b', theirs]);
    mustRun('qemu-img', ['snapshot', '-d', 'a', theirs]);
    qemuIo(theirs, ['write -P 2 64k 512']);
    const img = await openQcow2(ours);
    await img.instance.createSnapshot!('a');
    await img.instance.write!(4 * KiB, Buffer.alloc(4 * KiB, 1), {});
    await img.instance.createSnapshot!('b');
    await img.instance.deleteSnapshot!(undefined, 'a');
    await img.instance.write!(64 * KiB, Buffer.alloc(512, 2), {});
    await img.close();
    expect(qemuImgCheck(ours)).toMatchObject({ status: 0, corruptions: 0, leaks: 0 });
    expect(structure(ours).equals(structure(theirs))).toBe(true);
    const b = contentAt(ours, 'b', tmp.path('comp-r.qcow2'));
    const want = Buffer.alloc(4 * MiB);
    want.fill(7, 0, 64 * KiB).fill(1, 4 * KiB, 8 * KiB).fill(8, 64 * KiB, 128 * KiB).fill(9, MiB, MiB + 64 * KiB);
    expect(b.equals(want)).toBe(true);
  });

  it('writes the snapshot table entry as QEMU 7.2 does: 24 bytes of extra data, disk size, no icount', async () => {
    const path = tmp.path('entry.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '3M']);
    const img = await openQcow2(path);
    await img.instance.createSnapshot!('x', { dateSec: 1700000000, dateNsec: 250_000_000, vmClockNsec: 1_700_000_000_250_000_000n });
    await img.close();
    const info = JSON.parse(mustRun('qemu-img', ['info', '--output=json', path])) as { snapshots: Record<string, unknown>[] };
    expect(info.snapshots).toEqual([
      { id: '1', name: 'x', 'vm-state-size': 0, 'date-sec': 1700000000, 'date-nsec': 250000000, 'vm-clock-sec': 1700000000, 'vm-clock-nsec': 250000000 },
    ]);
    const f = readFileSync(path);
    const at = Number(f.readBigUInt64BE(64));
    expect(f.readUInt32BE(at + 36)).toBe(24);
    expect(f.readBigUInt64BE(at + 48)).toBe(3n * BigInt(MiB));
    expect(f.readBigUInt64BE(at + 56)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('keeps the first 255 bytes of a longer name and allows duplicate names, as QEMU does', async () => {
    const path = tmp.path('names.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '1M']);
    const img = await openQcow2(path);
    await img.instance.createSnapshot!('n'.repeat(300));
    await img.instance.createSnapshot!('dup');
    await img.instance.createSnapshot!('dup');
    expect(img.instance.listSnapshots!().map((s) => s.name.length)).toEqual([255, 3, 3]);
    expect(await refusal(img.instance.deleteSnapshot!('9', undefined))).toBe("Can't find the snapshot");
    await img.instance.deleteSnapshot!(undefined, 'dup');
    expect(img.instance.listSnapshots!().map((s) => s.id)).toEqual(['1', '3']);
    await img.close();
    expect(qemuImgCheck(path).status).toBe(0);
  });

  it('refuses to delete a snapshot of a read-only image with the text QSD gives', async () => {
    const path = tmp.path('ro.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '1M']);
    mustRun('qemu-img', ['snapshot', '-c', 'keep', path]);
    const img = await openQcow2(path, { readOnly: true });
    expect(await refusal(img.instance.deleteSnapshot!(undefined, 'keep'))).toBe(
      'Failed to remove snapshot from snapshot list: Operation not permitted',
    );
    expect(img.instance.listSnapshots!().map((s) => s.name)).toEqual(['keep']);
    await img.close();
    expect(listed(path)).toEqual([['1', 'keep']]);
  });

  it('opens an image whose snapshot entry carries too much extra data only as QEMU does: not at all', async () => {
    const path = tmp.path('extra.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', path, '1M']);
    mustRun('qemu-img', ['snapshot', '-c', 'x', path]);
    const f = Buffer.from(readFileSync(path));
    f.writeUInt32BE(1025, Number(f.readBigUInt64BE(64)) + 36);
    writeFileSync(path, f);
    const theirs = tool('qemu-img', ['info', path]);
    expect(theirs.stderr).toContain('Too much extra metadata in snapshot table entry 0');
    expect(await refusal(openQcow2(path, { readOnly: true }))).toBe('Too much extra metadata in snapshot table entry 0');
  });
});
