/**
 * The NBD server against real clients: qemu-img, qemu-io, nbdinfo and
 * nbdcopy over nbd+unix:// URLs, with data written by one client read back
 * by another and compared with a reference file.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FileBackend, MemoryBackend } from '../helpers/nbd-backends.js';
import { startNbd } from '../helpers/nbd-fixture.js';
import { NbdServer } from '../../src/block/exports/nbd/server.js';
import { skipWithout } from '../helpers/tools.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

async function tool(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await exec(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MiB });
  return stdout;
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io', 'qemu-nbd', 'nbdinfo', 'nbdcopy'))('NBD server with real clients', () => {
  it('shows qemu-img info the size of the export and a raw format', async () => {
    await using f = await startNbd([new MemoryBackend({ name: 'disk', size: 64 * MiB })]);
    const info = JSON.parse(await tool('qemu-img', ['info', '--output=json', f.uri('disk')])) as Record<string, unknown>;
    expect(info['virtual-size']).toBe(64 * MiB);
    expect(info['format']).toBe('raw');
  });

  it('reads back with qemu-io what qemu-io wrote, patterns and zeroes included', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 16 * MiB });
    await using f = await startNbd([mem]);
    const out = await tool('qemu-io', [
      '-f', 'raw',
      '-c', 'write -P 0x11 4096 65536',
      '-c', 'write -z 1M 128k',
      '-c', 'write -P 0x22 3M 1M',
      '-c', 'discard 3M 64k',
      '-c', 'flush',
      '-c', 'read -P 0x11 4096 65536',
      '-c', 'read -P 0 1M 128k',
      '-c', 'read -P 0x22 3200k 64k',
      f.uri('disk'),
    ]);
    expect(out).not.toMatch(/fail|error|mismatch/i);
    expect(mem.data.subarray(4096, 4096 + 65536).every((b) => b === 0x11)).toBe(true);
    expect(mem.flushes).toBeGreaterThan(0);
  });

  it('copies a file in with qemu-img convert and finds it identical with qemu-img compare and nbdcopy', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 8 * MiB });
    await using f = await startNbd([mem]);
    const ref = join(f.dir, 'ref.raw');
    const content = Buffer.alloc(8 * MiB);
    randomBytes(2 * MiB).copy(content, MiB);
    randomBytes(4096).copy(content, 6 * MiB + 512);
    writeFileSync(ref, content);
    await tool('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', ref, f.uri('disk')]);
    expect(mem.data.equals(content)).toBe(true);
    expect(await tool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', ref, f.uri('disk')])).toContain('Images are identical');
    const back = join(f.dir, 'back.raw');
    await tool('nbdcopy', [f.uri('disk'), back]);
    expect(readFileSync(back).equals(content)).toBe(true);
  });

  it('takes a whole image from nbdcopy and serves it to qemu-img over a file backend', async () => {
    await using f = await startNbd([]);
    const target = join(f.dir, 'target.raw');
    writeFileSync(target, Buffer.alloc(4 * MiB));
    const file = await FileBackend.open(target, { name: 'file' });
    f.server.addExport(file);
    const src = join(f.dir, 'src.raw');
    const content = randomBytes(4 * MiB);
    writeFileSync(src, content);
    await tool('nbdcopy', [src, f.uri('file')]);
    expect(readFileSync(target).equals(content)).toBe(true);
    expect(await tool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, f.uri('file')])).toContain('Images are identical');
    await file.close();
  });

  it('maps holes, allocated zeroes and data for qemu-img map', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB });
    mem.data.fill(7, MiB, 2 * MiB);
    mem.state.fill(1, 16, 32);
    await using f = await startNbd([mem]);
    const map = JSON.parse(await tool('qemu-img', ['map', '--output=json', '-f', 'raw', f.uri('disk')])) as {
      start: number;
      length: number;
      data: boolean;
      zero: boolean;
    }[];
    expect(map.map(({ start, length, data, zero }) => ({ start, length, data, zero }))).toEqual([
      { start: 0, length: MiB, data: false, zero: true },
      { start: MiB, length: MiB, data: true, zero: false },
      { start: 2 * MiB, length: 2 * MiB, data: false, zero: true },
    ]);
  });

  it('lists exports with descriptions and contexts for nbdinfo --list', async () => {
    await using f = await startNbd([
      new MemoryBackend({ name: 'a', size: MiB, description: 'first disk' }),
      new MemoryBackend({ name: 'b', size: 2 * MiB, writable: false, allocationDepth: true, bitmaps: ['b0'] }),
    ]);
    const list = JSON.parse(await tool('nbdinfo', ['--list', '--json', `nbd+unix:///?socket=${f.socket}`])) as {
      exports: Record<string, unknown>[];
    };
    const [a, b] = list.exports;
    expect(a).toMatchObject({
      'export-name': 'a',
      description: 'first disk',
      contexts: ['base:allocation'],
      is_read_only: false,
      can_cache: true,
      can_df: true,
      can_fast_zero: true,
      can_flush: true,
      can_fua: true,
      can_multi_conn: true,
      can_trim: true,
      can_zero: true,
      block_size_minimum: 1,
      block_size_preferred: 4096,
      block_size_maximum: 32 * MiB,
      'export-size': MiB,
    });
    expect(b).toMatchObject({
      'export-name': 'b',
      contexts: ['base:allocation', 'qemu:allocation-depth', 'qemu:dirty-bitmap:b0'],
      is_read_only: true,
      can_trim: false,
      can_zero: false,
      can_fast_zero: false,
    });
  });

  it('maps base:allocation, qemu:allocation-depth and a dirty bitmap for nbdinfo --map', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB, allocationDepth: true, bitmaps: ['b0'] });
    await using f = await startNbd([mem]);
    await tool('qemu-io', ['-f', 'raw', '-c', 'write -P 1 1M 512k', f.uri('disk')]);
    const lines = async (ctx: string): Promise<string[]> =>
      (await tool('nbdinfo', [`--map=${ctx}`, f.uri('disk')])).trim().split('\n').map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '));
    expect(await lines('base:allocation')).toEqual(['0 1048576 3', '1048576 524288 0', '1572864 2621440 3']);
    expect(await lines('qemu:allocation-depth')).toEqual(['0 1048576 0', '1048576 524288 1', '1572864 2621440 0']);
    expect(await lines('qemu:dirty-bitmap:b0')).toEqual(['0 1048576 0', '1048576 524288 1', '1572864 2621440 0']);
  });

  it('serves qemu-img over TCP on the port the kernel picked', async () => {
    const server = await NbdServer.start({ address: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
    try {
      server.addExport(new MemoryBackend({ name: 'my disk', size: 2 * MiB }));
      const a = server.address;
      if (a.kind !== 'tcp') throw new Error('not tcp');
      const info = JSON.parse(await tool('qemu-img', ['info', '--output=json', `nbd://127.0.0.1:${a.port}/my%20disk`])) as Record<string, unknown>;
      expect(info['virtual-size']).toBe(2 * MiB);
    } finally {
      await server.close();
    }
  });

  it('lists exports for qemu-nbd --list with their sizes and flags', async () => {
    await using f = await startNbd([
      new MemoryBackend({ name: 'a', size: MiB, description: 'first' }),
      new MemoryBackend({ name: 'b', size: 2 * MiB, writable: false, allocationDepth: true }),
    ]);
    const out = await tool('qemu-nbd', ['--list', '-k', f.socket]);
    expect(out).toContain('exports available: 2');
    expect(out).toMatch(/export: 'a'\n\s+description: first\n\s+size:\s+1048576\n\s+flags: 0xded/);
    expect(out).toMatch(/export: 'b'\n\s+size:\s+2097152\n\s+flags: 0x58f/);
    expect(out).toContain('qemu:allocation-depth');
  });

  it('serves many clients at once, each seeing the writes of the others after they finish', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 16 * MiB });
    await using f = await startNbd([mem]);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        tool('qemu-io', ['-f', 'raw', '-c', `write -P ${i + 1} ${i * 2}M 2M`, f.uri('disk')]),
      ),
    );
    const reads = await Promise.all(
      Array.from({ length: 8 }, (_, i) => tool('qemu-io', ['-f', 'raw', '-c', `read -P ${i + 1} ${i * 2}M 2M`, f.uri('disk')])),
    );
    for (const r of reads) expect(r).not.toMatch(/mismatch|fail/i);
  });
});
