/**
 * Images made and written by QEMU (qemu-img create, qemu-io write -P / -z / -c)
 * read back through qmpd's qcow2 driver byte for byte, alone and as backing
 * chains, and the driver's per-layer block status matches `qemu-img map`.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { DriverInstance } from '../../src/block/drivers/driver.js';
import { InstanceChild } from '../helpers/file-child.js';
import { openQcow2, type OpenedQcow2 } from '../helpers/qcow2.js';
import { mustRun, qemuIo, tempDir } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A qemu-io command and its effect on the expected content. */
type Cmd = ['P', number, number, number] | ['z', number, number] | ['c', number, number, number];

function qemuIoText(c: Cmd): string {
  switch (c[0]) {
    case 'P':
      return `write -P ${c[1]} ${c[2]} ${c[3]}`;
    case 'z':
      return `write -z ${c[1]} ${c[2]}`;
    case 'c':
      return `write -c -P ${c[1]} ${c[2]} ${c[3]}`;
  }
}

function applyModel(model: Buffer, cmds: Cmd[]): void {
  for (const c of cmds) {
    if (c[0] === 'z') model.fill(0, c[1], c[1] + c[2]);
    else model.fill(c[1], c[2], c[2] + c[3]);
  }
}

async function readAll(inst: DriverInstance, chunk: number): Promise<Buffer> {
  const out = Buffer.alloc(inst.length());
  for (let off = 0; off < out.length; off += chunk) {
    await inst.read(off, out.subarray(off, Math.min(out.length, off + chunk)));
  }
  return out;
}

interface MapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
}

/** Per-layer status of the top image as qemu-img map reports it. */
function expectedStatus(e: MapEntry): 'data' | 'zero' | 'unallocated' {
  if (e.depth > 0 || !e.present) return 'unallocated';
  return e.data ? 'data' : 'zero';
}

async function expectStatusLikeMap(inst: DriverInstance, path: string): Promise<void> {
  const map = JSON.parse(mustRun('qemu-img', ['map', '--output=json', path])) as MapEntry[];
  for (const e of map) {
    let off = e.start;
    while (off < e.start + e.length) {
      const s = await inst.blockStatus!(off, e.start + e.length - off);
      expect({ off, status: s.status }).toEqual({ off, status: expectedStatus(e) });
      off += s.length;
    }
  }
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('qcow2 images written by QEMU', () => {
  const tmp = tempDir();
  const opened: OpenedQcow2[] = [];
  afterAll(async () => {
    for (const o of opened) await o.close();
    tmp.remove();
  });

  const sizes: [string, number, string[]][] = [
    ['512-byte', 512, []],
    ['4 KiB', 4 * KiB, []],
    ['64 KiB', 64 * KiB, []],
    ['2 MiB', 2 * MiB, []],
    ['64 KiB v2 (compat=0.10)', 64 * KiB, ['compat=0.10']],
    ['512-byte zstd', 512, ['compression_type=zstd']],
    ['64 KiB zstd', 64 * KiB, ['compression_type=zstd']],
    ['2 MiB zstd', 2 * MiB, ['compression_type=zstd']],
  ];
  for (const [name, cs, extra] of sizes) {
    it(`reads patterns, zero clusters and compressed clusters from ${name} cluster images`, async () => {
      const path = tmp.path(`r-${cs}-${extra.length}.qcow2`);
      const size = 24 * MiB;
      mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', ['cluster_size=' + cs, ...extra].join(','), path, String(size)]);
      const cmds: Cmd[] = [
        ['P', 0x11, 0, 3 * MiB],
        ['P', 0x22, 5 * MiB + 512, 700 * KiB],
        ['P', 0x33, 9 * MiB - 4096, 8192],
        ['z', 1 * MiB, 1 * MiB],
        ['c', 0x44, 12 * MiB, 4 * MiB],
        ['P', 0x55, 12 * MiB + 2 * MiB, 4096],
        ['P', 0x66, size - 1536, 1536],
      ];
      qemuIo(path, cmds.map(qemuIoText));
      const model = Buffer.alloc(size);
      applyModel(model, cmds);
      const img = await openQcow2(path, { readOnly: true });
      opened.push(img);
      for (const chunk of [size, 1 * MiB, 4096 + 512]) {
        expect((await readAll(img.instance, chunk)).equals(model)).toBe(true);
      }
      await expectStatusLikeMap(img.instance, path);
    });
  }

  it('reads a three-image chain with a shorter base and zero clusters hiding backing data', async () => {
    const base = tmp.path('c-base.qcow2');
    const mid = tmp.path('c-mid.qcow2');
    const top = tmp.path('c-top.qcow2');
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=4096', base, String(1 * MiB)]);
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', mid, String(4 * MiB)]);
    mustRun('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=512', '-b', mid, '-F', 'qcow2', top, String(8 * MiB)]);
    const baseCmds: Cmd[] = [['P', 0x11, 0, 1 * MiB]];
    const midCmds: Cmd[] = [['P', 0x22, 512 * KiB, 1 * MiB], ['z', 128 * KiB, 64 * KiB]];
    const topCmds: Cmd[] = [['P', 0x33, 300 * KiB, 1000], ['z', 0, 4096], ['P', 0x44, 6 * MiB, 4096]];
    qemuIo(base, baseCmds.map(qemuIoText));
    qemuIo(mid, midCmds.map(qemuIoText));
    qemuIo(top, topCmds.map(qemuIoText));

    const model = Buffer.alloc(8 * MiB);
    applyModel(model, baseCmds);
    model.fill(0, 4 * MiB); // the middle image ends at 4 MiB: nothing of the chain below shows past it
    applyModel(model, midCmds);
    applyModel(model, topCmds);

    const b = await openQcow2(base, { readOnly: true });
    const m = await openQcow2(mid, { readOnly: true, backing: new InstanceChild('base', b.instance) });
    const t = await openQcow2(top, { readOnly: true, backing: new InstanceChild('mid', m.instance) });
    opened.push(t, m, b);
    expect((await readAll(t.instance, 256 * KiB)).equals(model)).toBe(true);
    await expectStatusLikeMap(t.instance, top);
    expect(t.instance.backingReference!()).toEqual({ filename: mid, format: 'qcow2' });
  });

  for (const type of ['zlib', 'zstd']) {
    it(`reads ${type} clusters that qemu-img convert -c made of text-like data`, async () => {
      // words drawn from a small vocabulary by a fixed generator: compressible, but not trivially
      const words = ['qcow2', 'cluster', 'refcount', 'backing', 'snapshot', 'bitmap', 'zero', 'export', 'node', 'overlay'];
      const size = 4 * MiB;
      const text = Buffer.alloc(size);
      let seed = 12345;
      for (let at = 0; at < size; ) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const w = `${words[seed % words.length]}${seed % 7 === 0 ? '\n' : ' '}`;
        at += text.write(w, at, 'latin1');
      }
      // an incompressible stretch (stored as a normal cluster) and a hole
      for (let i = 0; i < 256 * KiB; i++) text[MiB + i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      text.fill(0, 2 * MiB, 3 * MiB);
      const raw = tmp.path(`text-${type}.raw`);
      const path = tmp.path(`text-${type}.qcow2`);
      writeFileSync(raw, text);
      mustRun('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `compression_type=${type}`, raw, path]);
      const img = await openQcow2(path, { readOnly: true });
      opened.push(img);
      expect((await readAll(img.instance, 64 * KiB)).equals(text)).toBe(true);
    });
  }
});
