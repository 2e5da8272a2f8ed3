/**
 * The node's `discard` option decides what an NBD TRIM does, as in QEMU:
 * with the default (ignore) nothing happens, with unmap the range is
 * deallocated. The same requests go to qemu-storage-daemon and to qmpd, and
 * the resulting images must read and map the same.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import { skipWithout } from '../helpers/tools.js';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

async function trimThroughExport(kind: DaemonKind, discard: string | undefined): Promise<{ map: unknown; kept: boolean }> {
  await using d = await TestDaemon.start({ kind });
  const image = join(d.dir, 'disk.qcow2');
  run('qemu-img', ['create', '-q', '-f', 'qcow2', image, '4M']);
  const sock = join(d.dir, 'nbd.sock');
  const q = await d.connect();
  await q.execute('blockdev-add', {
    driver: 'qcow2',
    'node-name': 'disk',
    ...(discard ? { discard } : {}),
    file: { driver: 'file', filename: image },
  });
  await q.execute('nbd-server-start', { addr: { type: 'unix', data: { path: sock } } });
  await q.execute('block-export-add', { type: 'nbd', id: 'e', 'node-name': 'disk', writable: true });
  while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 10));
  const uri = `nbd+unix:///disk?socket=${sock}`;
  run('qemu-io', ['-f', 'raw', '-c', 'write -q -P 0x5a 0 1M', '-c', 'discard -q 0 512k', '-c', 'flush', uri]);
  await q.execute('quit');
  await d.waitExit();
  const map = JSON.parse(run('qemu-img', ['map', '--output=json', image])) as unknown;
  // does the trimmed half still hold what was written?
  const kept = spawnSync('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -q -P 0x5a 0 512k', image]).status === 0;
  return { map, kept };
}

describe.skipIf(skipWithout('qemu-storage-daemon', 'qemu-img', 'qemu-io'))('NBD TRIM and the discard option', () => {
  it.each([undefined, 'ignore', 'unmap'])('does what qemu-storage-daemon does with discard=%s', async (discard) => {
    const theirs = await trimThroughExport('qsd', discard);
    const ours = await trimThroughExport('qmpd', discard);
    expect(ours).toEqual(theirs);
    // and the policy really decides: the trimmed half keeps its data only when discards are ignored
    expect(ours.kept).toBe(discard !== 'unmap');
  });
});
