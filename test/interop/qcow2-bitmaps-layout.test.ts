/**
 * Persistent bitmaps stored at close land where QEMU puts them: the same
 * session run against qemu-storage-daemon and against qmpd (bitmaps made by
 * qemu-img, one removed, new ones added, guest writes over NBD, quit) leaves
 * the same image end, the same `qemu-img check` report and the same
 * metadata: header, bitmap directory, bitmap tables and data, refcounts.
 * A removed bitmap leaves the image at once, as `qemu-img info -U` shows
 * while the daemon still runs, even when its transaction then fails; a node
 * that turns read-only (snapshot base, blockdev-reopen, change-backing-file)
 * stores its bitmaps first; query-named-block-nodes shows the same flags.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredBitmap } from '../../src/block/drivers/driver.js';
import { CrashRecorder } from '../helpers/crash-recorder.js';
import { TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import { MemChild } from '../helpers/file-child.js';
import { openOnChild } from '../helpers/qcow2.js';
import { mustRun, qemuImgCheck, qemuIo, tempDir, tool } from '../helpers/qcow2-tools.js';
import { skipWithout } from '../helpers/tools.js';

const BITMAPS_EXT = 0x23852875;

/** Everything an image's bitmaps reach, with the refcount of every cluster of the file. */
function bitmapLayout(path: string): Record<string, unknown> {
  const f = readFileSync(path);
  const cs = 2 ** f.readUInt32BE(20);
  const out: Record<string, unknown> = { length: f.length, header: f.subarray(0, 4096).toString('hex') };
  let off = f.readUInt32BE(100);
  while (off + 8 <= cs) {
    const type = f.readUInt32BE(off);
    const len = f.readUInt32BE(off + 4);
    if (type === 0) break;
    if (type === BITMAPS_EXT) {
      const nb = f.readUInt32BE(off + 8);
      const dirSize = Number(f.readBigUInt64BE(off + 16));
      const dirOff = Number(f.readBigUInt64BE(off + 24));
      out.directory = f.subarray(dirOff, dirOff + dirSize).toString('hex');
      const bitmaps: unknown[] = [];
      for (let i = 0, p = dirOff; i < nb; i++) {
        const tableOff = Number(f.readBigUInt64BE(p));
        const tableSize = f.readUInt32BE(p + 8);
        const nameLen = f.readUInt16BE(p + 18);
        const extra = f.readUInt32BE(p + 20);
        const data: string[] = [];
        for (let k = 0; k < tableSize; k++) {
          const d = Number(f.readBigUInt64BE(tableOff + 8 * k) & 0x00fffffffffffe00n);
          data.push(d === 0 ? '' : f.subarray(d, d + cs).toString('hex'));
        }
        bitmaps.push({ name: f.toString('utf8', p + 24 + extra, p + 24 + extra + nameLen), tableOff, table: f.subarray(tableOff, tableOff + 8 * tableSize).toString('hex'), data });
        p += (24 + extra + nameLen + 7) & ~7;
      }
      out.bitmaps = bitmaps;
    }
    off += 8 + ((len + 7) & ~7);
  }
  const rt = Number(f.readBigUInt64BE(48));
  const block = Number(f.readBigUInt64BE(rt));
  out.refcounts = Array.from({ length: Math.ceil(f.length / cs) + 1 }, (_, i) => f.readUInt16BE(block + 2 * i));
  return out;
}

interface Session {
  setup: string[][];
  /** QMP commands before the NBD writes, and after them */
  before: [string, Record<string, unknown>][];
  writes: string[];
  after: [string, Record<string, unknown>][];
  /** no NBD export (it would hold the node writable) */
  noExport?: true;
}

interface QueriedNode {
  'node-name': string;
  ro: boolean;
  drv: string;
  image: { filename: string; 'format-specific'?: { data: { bitmaps?: unknown } } };
  'dirty-bitmaps'?: unknown;
}

/** What query-named-block-nodes says of each qcow2 image: read-only, stored bitmaps and in-memory ones. */
function queriedBitmaps(nodes: QueriedNode[]): unknown {
  return nodes
    .filter((n) => n.drv === 'qcow2')
    .map((n) => [n.image.filename, n.ro, n.image['format-specific']?.data.bitmaps ?? [], n['dirty-bitmaps'] ?? []])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

/** The bitmaps `qemu-img info -U` lists while the daemon holds the image. */
function liveBitmaps(path: string): unknown {
  const info = JSON.parse(mustRun('qemu-img', ['info', '-U', '--output=json', path])) as { 'format-specific': { data: { bitmaps?: unknown } } };
  return info['format-specific'].data.bitmaps ?? [];
}

interface Outcome {
  check: string;
  layout: Record<string, unknown>;
  /** replies to the `after` commands and the bitmaps in the image before quit */
  replies: unknown[];
  live: unknown;
  queried: unknown;
}

async function runSession(kind: DaemonKind, dir: string, s: Session): Promise<Outcome> {
  mustRun('mkdir', ['-p', dir]);
  copyFileSync(`${dir}/../template.qcow2`, `${dir}/base.qcow2`);
  for (const cmd of s.setup) mustRun(cmd[0]!, cmd.slice(1), dir);
  const replies: unknown[] = [];
  let live: unknown;
  let queried: unknown;
  const d = await TestDaemon.start({
    kind,
    dir,
    args: [
      '--blockdev', '{"driver":"qcow2","node-name":"base","file":{"driver":"file","node-name":"base-file","filename":"base.qcow2"}}',
      '--nbd-server', 'addr.type=unix,addr.path=nbd.sock',
      ...(s.noExport ? [] : ['--export', 'type=nbd,id=e0,node-name=base,writable=on']),
    ],
  });
  try {
    const c = await d.connect();
    for (const [cmd, args] of s.before) await c.execute(cmd, args);
    if (s.writes.length > 0) qemuIo(`nbd+unix:///base?socket=${dir}/nbd.sock`, s.writes, 'raw');
    for (const [cmd, args] of s.after) replies.push(await c.command(cmd, args));
    live = liveBitmaps(`${dir}/base.qcow2`);
    queried = queriedBitmaps(await c.execute<QueriedNode[]>('query-named-block-nodes', { flat: true }));
    await c.execute('quit');
    await d.waitExit();
  } finally {
    await d.stop();
  }
  const check = tool('qemu-img', ['check', `${dir}/base.qcow2`]);
  return { check: check.stdout + check.stderr, layout: bitmapLayout(`${dir}/base.qcow2`), replies, live, queried };
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io', 'qemu-storage-daemon'))('persistent bitmaps laid out at close as QEMU lays them out', () => {
  const tmp = tempDir('qmpd-bitmap-layout-');
  afterAll(() => tmp.remove());
  mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', tmp.path('template.qcow2'), '64M']);

  const sessions: [string, Session][] = [
    [
      'one removed, one added (the bitmap-persistent-reload scenario)',
      {
        setup: [['qemu-img', 'bitmap', '--add', '-g', '131072', 'base.qcow2', 'pb'], ['qemu-img', 'bitmap', '--add', '--disable', 'base.qcow2', 'off']],
        before: [
          ['block-dirty-bitmap-remove', { node: 'base', name: 'pb' }],
          ['block-dirty-bitmap-add', { node: 'base', name: 'np', persistent: true, disabled: true }],
        ],
        writes: [],
        after: [],
      },
    ],
    [
      'bitmaps with data, one removed after guest writes, two added',
      {
        setup: [
          ['qemu-io', '-f', 'qcow2', '-c', 'write -q -P 1 0 1M', 'base.qcow2'],
          ['qemu-img', 'bitmap', '--add', '-g', '65536', 'base.qcow2', 'a'],
          ['qemu-img', 'bitmap', '--add', '-g', '512', 'base.qcow2', 'fine'],
          ['qemu-img', 'bitmap', '--add', '--disable', 'base.qcow2', 'off'],
        ],
        before: [['block-dirty-bitmap-add', { node: 'base', name: 'n1', persistent: true, granularity: 1024 }]],
        writes: ['write -q -P 2 4M 200K', 'write -q -P 3 40M 1K', 'write -q -z 63M 1M'],
        after: [
          ['block-dirty-bitmap-remove', { node: 'base', name: 'a' }],
          ['block-dirty-bitmap-add', { node: 'base', name: 'n2', persistent: true }],
        ],
      },
    ],
    [
      'every bitmap removed',
      {
        setup: [['qemu-img', 'bitmap', '--add', 'base.qcow2', 'x'], ['qemu-img', 'bitmap', '--add', 'base.qcow2', 'y']],
        before: [],
        writes: ['write -q -P 5 1M 64K'],
        after: [
          ['block-dirty-bitmap-remove', { node: 'base', name: 'x' }],
          ['block-dirty-bitmap-remove', { node: 'base', name: 'y' }],
        ],
      },
    ],
    [
      'a remove in a failing transaction: out of the image at once, stored again at close',
      {
        setup: [['qemu-img', 'bitmap', '--add', 'base.qcow2', 'x'], ['qemu-img', 'bitmap', '--add', '--disable', 'base.qcow2', 'y']],
        before: [],
        writes: ['write -q -P 6 2M 64K'],
        after: [
          [
            'transaction',
            {
              actions: [
                { type: 'block-dirty-bitmap-remove', data: { node: 'base', name: 'x' } },
                { type: 'block-dirty-bitmap-add', data: { node: 'base', name: 'y' } },
              ],
            },
          ],
        ],
      },
    ],
    [
      'a snapshot stores the base\'s bitmaps before the base turns read-only',
      {
        setup: [['qemu-img', 'bitmap', '--add', '-g', '131072', 'base.qcow2', 'pb'], ['qemu-img', 'bitmap', '--add', '--disable', 'base.qcow2', 'off']],
        before: [['block-dirty-bitmap-add', { node: 'base', name: 'np', persistent: true }]],
        writes: ['write -q -P 7 0 300K', 'write -q -P 8 30M 64K'],
        after: [
          ['blockdev-snapshot-sync', { 'node-name': 'base', 'snapshot-file': 'ov.qcow2', 'snapshot-node-name': 'ov', format: 'qcow2' }],
          ['block-dirty-bitmap-clear', { node: 'base', name: 'np' }],
          ['block-dirty-bitmap-add', { node: 'base', name: 'late', persistent: true }],
        ],
      },
    ],
    [
      'an inconsistent bitmap keeps its in-use entry and is not stored',
      {
        setup: [
          ['qemu-img', 'bitmap', '--add', 'base.qcow2', 'torn'],
          ['qemu-img', 'bitmap', '--add', 'base.qcow2', 'fine'],
          // qemu-io killed while it holds the image: both bitmaps stay in use
          ['sh', '-c', "timeout -s KILL 1 qemu-io -f qcow2 -c 'write -q 0 64k' -c 'sleep 10000' base.qcow2; true"],
          ['qemu-img', 'bitmap', '--remove', 'base.qcow2', 'fine'],
          ['qemu-img', 'bitmap', '--add', 'base.qcow2', 'fine'],
        ],
        before: [],
        writes: ['write -q -P 9 1M 64K'],
        after: [['block-dirty-bitmap-clear', { node: 'base', name: 'torn' }]],
      },
    ],
    [
      'change-backing-file on a read-only image stores its bitmaps again',
      {
        setup: [
          ['qemu-img', 'create', '-q', '-f', 'qcow2', 'back.qcow2', '64M'],
          ['qemu-img', 'rebase', '-u', '-b', 'back.qcow2', '-F', 'qcow2', 'base.qcow2'],
          ['qemu-img', 'bitmap', '--add', 'base.qcow2', 'b1'],
        ],
        before: [],
        writes: ['write -q -P 4 5M 64K'],
        after: [
          ['blockdev-snapshot-sync', { 'node-name': 'base', 'snapshot-file': 'ov.qcow2', 'snapshot-node-name': 'ov', format: 'qcow2' }],
          ['change-backing-file', { device: 'ov', 'image-node-name': 'base', 'backing-file': 'back.qcow2' }],
        ],
      },
    ],
    [
      'blockdev-reopen read-only stores the bitmaps, read-write flags them in use',
      {
        setup: [['qemu-img', 'bitmap', '--add', 'base.qcow2', 'r1'], ['qemu-img', 'bitmap', '--add', '--disable', 'base.qcow2', 'r2']],
        before: [['block-dirty-bitmap-add', { node: 'base', name: 'r3', persistent: true, granularity: 4096 }]],
        writes: [],
        after: [
          ['blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': 'base', 'read-only': true, file: 'base-file' }] }],
          ['blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': 'base', 'read-only': false, file: 'base-file' }] }],
          ['block-dirty-bitmap-add', { node: 'base', name: 'r4', persistent: true }],
        ],
        noExport: true,
      },
    ],
  ];

  sessions.forEach(([name, session], i) => {
    it(`leaves the image QSD leaves: ${name}`, async () => {
      const theirs = await runSession('qsd', tmp.path(`qsd-${i}`), session);
      const ours = await runSession('qmpd', tmp.path(`qmpd-${i}`), session);
      expect(ours.check).toBe(theirs.check);
      expect(ours.check).toContain('No errors were found on the image.');
      expect(ours.layout).toEqual(theirs.layout);
      expect(ours.live).toEqual(theirs.live);
      expect(ours.queried).toEqual(theirs.queried);
      expect(JSON.stringify(ours.replies)).toBe(JSON.stringify(theirs.replies));
    });
  });

  it('is byte for byte the file QSD leaves for the scenario session', async () => {
    const [, session] = sessions[0]!;
    await runSession('qsd', tmp.path('qsd-bytes'), session);
    const ours = await runSession('qmpd', tmp.path('qmpd-bytes'), session);
    expect(ours.check).toContain('Image end offset: 589824');
    expect(readFileSync(tmp.path('qmpd-bytes/base.qcow2')).equals(readFileSync(tmp.path('qsd-bytes/base.qcow2')))).toBe(true);
  });

  it('never loses a bitmap that stays, whatever a crash keeps of the store at close', async () => {
    const path = tmp.path('crash-src.qcow2');
    copyFileSync(tmp.path('template.qcow2'), path);
    mustRun('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 1 0 2M', path]);
    mustRun('qemu-img', ['bitmap', '--add', '-g', '65536', path, 'pb']);
    mustRun('qemu-img', ['bitmap', '--add', '-g', '512', path, 'keep']);
    const rec = new CrashRecorder(new MemChild('crash', readFileSync(path)));
    const inst = await openOnChild(rec);
    const loaded = await inst.loadBitmaps!();
    const keep = loaded.find((b) => b.name === 'keep')!;
    keep.bits.fill(0xff, 0, 64);
    const fresh: StoredBitmap = { name: 'np', granularity: 65536, enabled: true, bits: new Uint8Array(keep.bits.length) };
    fresh.bits[1] = 0x0f;
    // 'pb' removed, 'keep' stored again with new bits, 'np' added
    await inst.storeBitmaps!([keep, fresh]);
    await inst.close();
    expect(rec.flushCount).toBeGreaterThan(4);
    const seen = new Set<string>();
    const state = tmp.path('crash-state.qcow2');
    for (const { k, state: bytes } of rec.everyCrash(7)) {
      writeFileSync(state, bytes);
      const c = qemuImgCheck(state);
      expect({ k, corruptions: c.corruptions, checkErrors: c.checkErrors }).toEqual({ k, corruptions: 0, checkErrors: 0 });
      const info = JSON.parse(mustRun('qemu-img', ['info', '--output=json', state])) as { 'format-specific': { data: { bitmaps?: { name: string }[] } } };
      const names = (info['format-specific'].data.bitmaps ?? []).map((b) => b.name).join(',');
      expect(['pb,keep', 'keep', 'keep,np']).toContain(names);
      seen.add(names);
    }
    // the old set, the set without the removed bitmap, and the new set all occur at some crash point
    expect([...seen].sort()).toEqual(['keep', 'keep,np', 'pb,keep']);
  });
});
