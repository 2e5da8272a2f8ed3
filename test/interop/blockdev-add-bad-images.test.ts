/**
 * blockdev-add of broken or unsupported qcow2 images through the real daemon:
 * a clear QMP error (QEMU's own text wherever QEMU refuses too, checked
 * against qemu-storage-daemon with the same file), the image file
 * byte-for-byte unchanged, the connection still usable and the graph empty.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { CRAFTED } from '../helpers/qcow2-crafted.js';
import type { QmpClient } from '../helpers/qmp-client.js';
import { skipWithout } from '../helpers/tools.js';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe.skipIf(skipWithout('qemu-img', 'qemu-storage-daemon'))('blockdev-add of bad qcow2 images', () => {
  let ours: TestDaemon;
  let theirs: TestDaemon;
  let a: QmpClient;
  let b: QmpClient;
  let fresh: Buffer;

  beforeAll(async () => {
    ours = await TestDaemon.start();
    theirs = await TestDaemon.start({ kind: 'qsd' });
    a = await ours.connect();
    b = await theirs.connect();
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', ours.path('fresh.qcow2'), '64M']);
    fresh = readFileSync(ours.path('fresh.qcow2'));
  });
  afterAll(async () => {
    a?.close();
    b?.close();
    await ours?.stop();
    await theirs?.stop();
  });

  it.each(CRAFTED.map((c, i) => [c.name, i] as const))('refuses %s and leaves the file as it was', async (_name, i) => {
    const c = CRAFTED[i]!;
    const image = c.craft(fresh);
    const add = (d: TestDaemon) => {
      const path = d.path(`bad${i}.qcow2`);
      writeFileSync(path, image);
      return path;
    };
    const ourPath = add(ours);
    const before = sha(ourPath);
    const args = (path: string) => ({ driver: 'qcow2', 'node-name': `bad${i}`, file: { driver: 'file', filename: path } });
    const reply = await a.command('blockdev-add', args(ourPath), i);
    expect(reply.error).toEqual({ class: 'GenericError', desc: c.message });
    expect(sha(ourPath)).toBe(before);
    if (c.qemuSame) {
      const theirPath = add(theirs);
      expect((await b.command('blockdev-add', args(theirPath), i)).error).toEqual(reply.error);
    }
    expect(await a.execute('query-named-block-nodes')).toEqual([]);
  });

  it.each(['qed', 'vmdk', 'vpc', 'parallels'])(
    'opens a qcow2 file as %s with the format driver\'s own error, as QSD; an image in that format is not supported',
    async (format) => {
      const args = (file: string) => ({ driver: format, 'node-name': 'foreign', file: { driver: 'file', filename: ours.path(file) } });
      const theirReply = await b.command('blockdev-add', args('fresh.qcow2'));
      expect(theirReply.error).toBeDefined();
      // both daemons read the same file; QSD's answer is the reference
      const before = sha(ours.path('fresh.qcow2'));
      expect((await a.command('blockdev-add', args('fresh.qcow2'))).error).toEqual(theirReply.error);
      expect(sha(ours.path('fresh.qcow2'))).toBe(before);
      execFileSync('qemu-img', ['create', '-q', '-f', format, ours.path(`real.${format}`), '1M']);
      expect((await a.command('blockdev-add', args(`real.${format}`))).error).toEqual({
        class: 'GenericError',
        desc: `Driver '${format}' is not supported by qmpd`,
      });
      expect(await a.execute('query-named-block-nodes')).toEqual([]);
    },
  );
});
