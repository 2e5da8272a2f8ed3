/**
 * Images with extended L2 entries (subclusters) written by qmpd end up as
 * QEMU 7.2 leaves them: the same operations applied by qemu-io to one copy
 * and by qmpd to another give the same L2 entries (descriptors and
 * subcluster bitmaps), the same `qemu-img map`, the same data, and a clean
 * `qemu-img check`.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mustRun, qemuImgCheck, qemuIo, tempDir, tool } from '../helpers/qcow2-tools.js';
import {
  applyWithQemu, applyWithQmpd, dumpExtendedL2, mapWithoutHosts, openChain, twins, type SubOp,
} from '../helpers/qcow2-subclusters.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipWithout } from '../helpers/tools.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function expectClean(path: string): void {
  const c = qemuImgCheck(path);
  expect(c.stderr).toBe('');
  expect({ status: c.status, corruptions: c.corruptions, leaks: c.leaks, checkErrors: c.checkErrors }).toEqual({
    status: 0, corruptions: 0, leaks: 0, checkErrors: 0,
  });
}

function map(path: string): unknown {
  return JSON.parse(mustRun('qemu-img', ['map', '--output=json', path]));
}

function expectSameAsQemu(qemuPath: string, qmpdPath: string, hosts = true): void {
  expectClean(qmpdPath);
  expect(dumpExtendedL2(qmpdPath, hosts)).toEqual(dumpExtendedL2(qemuPath, hosts));
  if (hosts) expect(map(qmpdPath)).toEqual(map(qemuPath));
  else expect(mapWithoutHosts(qmpdPath)).toEqual(mapWithoutHosts(qemuPath));
  const r = tool('qemu-img', ['compare', qemuPath, qmpdPath]);
  expect(r.stdout + r.stderr).toContain('Images are identical.');
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io', 'qemu-storage-daemon'))('qcow2 with extended L2 entries, side by side with QEMU', () => {
  const tmp = tempDir('qmpd-subclusters-');
  afterAll(() => tmp.remove());

  function fresh(name: string, size = 4 * MiB, extra = ''): string {
    const p = tmp.path(name);
    mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `extended_l2=on${extra}`, p, String(size)]);
    return p;
  }

  it('partial writes allocate only the touched subclusters, with COW of partial subclusters', async () => {
    const src = fresh('w.qcow2');
    const q = tmp.path('w-q.qcow2');
    const m = tmp.path('w-m.qcow2');
    twins(src, q, m);
    const ops: SubOp[] = [
      { kind: 'write', off: 0, len: 512, pattern: 1 },
      { kind: 'write', off: 64 * KiB + 3000, len: 5000, pattern: 2 },
      { kind: 'write', off: 128 * KiB + 60 * KiB, len: 10 * KiB, pattern: 3 },
      // into an allocated cluster whose subclusters are still unallocated
      { kind: 'write', off: 64 * KiB + 40 * KiB + 100, len: 300, pattern: 4 },
      { kind: 'write', off: 1 * MiB, len: 200 * KiB, pattern: 5 },
    ];
    applyWithQemu(q, ops);
    await applyWithQmpd(m, ops);
    const d = dumpExtendedL2(m);
    expect(d[0]).toMatch(/\/0\/1$/);
    expect(d[1]).toMatch(/\/0\/10000e$/);
    expectSameAsQemu(q, m);
  });

  it('zero writes set zero bits per subcluster, discards act on whole clusters', async () => {
    const src = fresh('z.qcow2');
    const q = tmp.path('z-q.qcow2');
    const m = tmp.path('z-m.qcow2');
    twins(src, q, m);
    const ops: SubOp[] = [
      { kind: 'zero', off: 0, len: 4 * KiB, unmap: false },
      { kind: 'zero', off: 64 * KiB, len: 1 * KiB, unmap: false },
      { kind: 'zero', off: 128 * KiB + 1 * KiB, len: 2 * KiB, unmap: false },
      { kind: 'write', off: 192 * KiB, len: 64 * KiB, pattern: 1 },
      { kind: 'zero', off: 192 * KiB + 4 * KiB, len: 6 * KiB, unmap: false },
      { kind: 'zero', off: 192 * KiB + 20 * KiB + 100, len: 500, unmap: false },
      { kind: 'zero', off: 256 * KiB, len: 64 * KiB, unmap: true },
      { kind: 'write', off: 320 * KiB, len: 64 * KiB, pattern: 2 },
      { kind: 'discard', off: 320 * KiB, len: 4 * KiB },
      { kind: 'write', off: 384 * KiB, len: 64 * KiB, pattern: 3 },
      { kind: 'discard', off: 384 * KiB, len: 64 * KiB },
      { kind: 'write', off: 448 * KiB, len: 128 * KiB, pattern: 4 },
      { kind: 'zero', off: 448 * KiB, len: 128 * KiB, unmap: true },
      { kind: 'write', off: 576 * KiB, len: 64 * KiB, pattern: 5 },
      { kind: 'zero', off: 576 * KiB, len: 64 * KiB, unmap: false },
      { kind: 'write', off: 576 * KiB + 2 * KiB, len: 2 * KiB, pattern: 6 },
    ];
    applyWithQemu(q, ops);
    await applyWithQmpd(m, ops);
    expectSameAsQemu(q, m, false);
  });

  it('copies only partial subclusters from the backing file, and zeroes hide it per subcluster', async () => {
    const base = tmp.path('base.qcow2');
    mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', base, String(4 * MiB)]);
    qemuIo(base, ['write -q -P 0x55 0 4M']);
    const src = fresh('b.qcow2', 4 * MiB, `,backing_file=${base},backing_fmt=qcow2`);
    const q = tmp.path('b-q.qcow2');
    const m = tmp.path('b-m.qcow2');
    twins(src, q, m);
    const ops: SubOp[] = [
      { kind: 'write', off: 1000, len: 100, pattern: 1 },
      { kind: 'write', off: 64 * KiB + 2 * KiB, len: 4 * KiB, pattern: 2 },
      { kind: 'write', off: 200 * KiB, len: 100 * KiB, pattern: 3 },
      { kind: 'zero', off: 3 * KiB, len: 2 * KiB, unmap: false },
      { kind: 'zero', off: 512 * KiB, len: 70 * KiB, unmap: true },
      { kind: 'zero', off: 640 * KiB + 100, len: 100, unmap: false },
      { kind: 'write', off: 1 * MiB + 7000, len: 70000, pattern: 4 },
      { kind: 'discard', off: 2 * MiB, len: 128 * KiB },
      { kind: 'discard', off: 1 * MiB, len: 128 * KiB },
    ];
    applyWithQemu(q, ops);
    await applyWithQmpd(m, ops, base);
    const d = dumpExtendedL2(m);
    // the 100-byte write allocated one 2 KiB subcluster, completed from the backing file; the
    // partial zero writes next to it could not hide the backing file with zero bits, so they wrote data
    expect(d[0]).toMatch(/\/0\/7$/);
    expect(qemuIo(m, ['read -P 0x55 0 1000', 'read -P 1 1000 100', 'read -P 0x55 1100 1972', 'read -P 0 3072 2048'])).not.toContain('fail');
    expectSameAsQemu(q, m, false);
  });

  it('writes into clusters shared with an internal snapshot copy from the first to the last allocated subcluster', async () => {
    const src = fresh('s.qcow2');
    qemuIo(src, ['write -q -P 1 6K 2K', 'write -q -P 2 40K 4K', 'write -q -P 3 128K 64K', 'write -q -z 130K 2K']);
    mustRun('qemu-img', ['snapshot', '-c', 'snap', src]);
    const q = tmp.path('s-q.qcow2');
    const m = tmp.path('s-m.qcow2');
    twins(src, q, m);
    const ops: SubOp[] = [
      { kind: 'write', off: 20 * KiB, len: 1 * KiB, pattern: 4 },
      { kind: 'write', off: 128 * KiB + 10 * KiB, len: 1 * KiB, pattern: 5 },
      { kind: 'zero', off: 160 * KiB, len: 8 * KiB, unmap: false },
    ];
    applyWithQemu(q, ops);
    await applyWithQmpd(m, ops);
    expectSameAsQemu(q, m, false);
    const before = tmp.path('s-snap.raw');
    mustRun('qemu-img', ['convert', '-l', 'snapshot.name=snap', '-O', 'raw', m, before]);
    const r = tool('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', before, src]);
    expect(r.stdout).toContain('Images are identical.');
  });

  it('internal snapshots made by qmpd count 16-byte entries right', async () => {
    const p = fresh('sn.qcow2');
    qemuIo(p, ['write -q -P 1 0 100K', 'write -q -P 2 1M 3K']);
    const chain = await openChain(p);
    await chain.top.instance.createSnapshot!('one');
    await chain.top.instance.write!(2 * KiB, Buffer.alloc(4 * KiB, 9), {});
    await chain.top.instance.createSnapshot!('two');
    await chain.top.instance.deleteSnapshot!(undefined, 'one');
    await chain.top.instance.write!(1 * MiB + 500, Buffer.alloc(100, 8), {});
    await chain.close();
    expectClean(p);
    expect(qemuIo(p, ['read -q -P 1 0 2K', 'read -q -P 9 2K 4K', 'read -q -P 1 6K 94K', 'read -q -P 8 1049076 100'])).toBe('');
    const two = tmp.path('sn-two.raw');
    mustRun('qemu-img', ['convert', '-l', 'snapshot.name=two', '-O', 'raw', p, two]);
    expect(qemuIo(two, ['read -q -P 2 1M 500', 'read -q -P 2 1049076 100'], 'raw')).toBe('');
  });

  it('compressed clusters are copied whole on a partial write and dropped by zero writes', async () => {
    const raw = tmp.path('c.raw');
    writeFileSync(raw, Buffer.alloc(1 * MiB, 0x77));
    const src = tmp.path('c.qcow2');
    mustRun('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'extended_l2=on', raw, src]);
    const q = tmp.path('c-q.qcow2');
    const m = tmp.path('c-m.qcow2');
    twins(src, q, m);
    const ops: SubOp[] = [
      { kind: 'write', off: 3 * KiB, len: 1 * KiB, pattern: 1 },
      { kind: 'zero', off: 64 * KiB, len: 64 * KiB, unmap: false },
      { kind: 'zero', off: 128 * KiB + 4 * KiB, len: 4 * KiB, unmap: false },
      { kind: 'discard', off: 192 * KiB, len: 64 * KiB },
    ];
    applyWithQemu(q, ops);
    await applyWithQmpd(m, ops);
    expectSameAsQemu(q, m, false);
  });

  it('shrinks and grows like qemu-img resize', async () => {
    const src = fresh('r.qcow2', 8 * MiB);
    qemuIo(src, ['write -q -P 1 0 8M', 'write -q -z 5M 100K']);
    const q = tmp.path('r-q.qcow2');
    const m = tmp.path('r-m.qcow2');
    twins(src, q, m);
    mustRun('qemu-img', ['resize', '-q', '--shrink', q, String(3 * MiB + 4 * KiB)]);
    const chain = await openChain(m);
    await chain.top.instance.truncate!(3 * MiB + 4 * KiB);
    await chain.close();
    expectSameAsQemu(q, m);
    mustRun('qemu-img', ['resize', '-q', q, String(600 * MiB)]);
    const again = await openChain(m);
    await again.top.instance.truncate!(600 * MiB);
    await again.close();
    expectSameAsQemu(q, m);
  });

  it('through the daemon over NBD, ends as QSD leaves the same image, and reports extended-l2', async () => {
    const nbdOps = [
      'write -q -P 1 1000 3000',
      'write -q -z 70000 5000',
      'write -q -P 2 131072 65536',
      'write -q -z -u 131072 65536',
      'write -q -P 3 300000 100',
      'discard -q 300000 70000',
    ];
    const results: Record<string, { dump: Record<number, string>; info: unknown }> = {};
    for (const kind of ['qmpd', 'qsd'] as const) {
      const dir = tmp.path(`daemon-${kind}`);
      mustRun('mkdir', ['-p', dir]);
      const img = `${dir}/d.qcow2`;
      mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', img, String(4 * MiB)]);
      const d = await TestDaemon.start({
        kind,
        dir,
        args: [
          '--blockdev', `{"driver":"qcow2","node-name":"disk","file":{"driver":"file","filename":"d.qcow2"}}`,
          '--nbd-server', 'addr.type=unix,addr.path=nbd.sock',
          '--export', 'type=nbd,id=e0,node-name=disk,writable=on',
        ],
      });
      try {
        const c = await d.connect();
        const nodes = (await c.execute('query-named-block-nodes', { flat: true })) as { 'node-name': string; image: { 'format-specific'?: unknown } }[];
        const info = nodes.find((n) => n['node-name'] === 'disk')!.image['format-specific'];
        qemuIo(`nbd+unix:///disk?socket=${dir}/nbd.sock`, nbdOps, 'raw');
        await c.execute('quit');
        await d.waitExit();
        results[kind] = { dump: dumpExtendedL2(img, false), info };
      } finally {
        await d.stop();
      }
      expectClean(img);
    }
    expect(results.qmpd!.info).toMatchObject({ data: { 'extended-l2': true } });
    expect(results.qmpd).toEqual(results.qsd);
    const r = tool('qemu-img', ['compare', tmp.path('daemon-qmpd/d.qcow2'), tmp.path('daemon-qsd/d.qcow2')]);
    expect(r.stdout).toContain('Images are identical.');
  });
});
