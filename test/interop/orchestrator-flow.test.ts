/**
 * The orchestrator's snapshot flow (blockdev-create jobs, blockdev-add with
 * backing null, a blockdev-snapshot + bitmap transaction) on two disks at
 * once, against qmpd and against qemu-storage-daemon, with the resulting
 * images checked by qemu-img; and the failures on the way.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import {
  addBases,
  createAll,
  DISK_SIZE,
  DISKS,
  dismissAll,
  makeBases,
  nodeViews,
  orchestratorFlow,
  create,
} from '../helpers/orchestrator.js';
import { QmpTranscript, type Message } from '../helpers/qmp-transcript.js';
import { run, skipWithout } from '../helpers/tools.js';

interface ImageView {
  format: unknown;
  'virtual-size': unknown;
  'cluster-size': unknown;
  'backing-filename': unknown;
  'backing-filename-format': unknown;
  'format-specific': unknown;
}

function imageInfo(path: string): ImageView {
  const info = JSON.parse(run('qemu-img', ['info', '--output=json', path])) as Record<string, unknown>;
  return {
    format: info.format,
    'virtual-size': info['virtual-size'],
    'cluster-size': info['cluster-size'],
    'backing-filename': info['backing-filename'],
    'backing-filename-format': info['backing-filename-format'],
    'format-specific': info['format-specific'],
  };
}

async function flowOn(kind: DaemonKind) {
  await using d = await TestDaemon.start({ kind });
  makeBases((name) => d.path(name));
  const t = await QmpTranscript.connect(d.socketPath);
  await addBases(t);
  await orchestratorFlow(t);
  const nodes = nodeViews(await t.execute<Message[]>('query-named-block-nodes'));
  const block = await t.execute('query-block');
  const jobs = await t.execute('query-jobs');
  await t.execute('quit');
  await d.waitExit();
  const images = DISKS.map((i) => imageInfo(d.path(`ov${i}.qcow2`)));
  // qemu-img check exits non-zero on any error or leak
  const checks = DISKS.map((i) => run('qemu-img', ['check', d.path(`ov${i}.qcow2`)]).split('\n')[0]);
  // the overlay reads the base's data through its backing file
  const read = run('qemu-io', ['-c', 'read -P 0x11 0 1M', d.path('ov0.qcow2')]);
  return { nodes, block, jobs, images, checks, read: read.includes('read 1048576/1048576 bytes') };
}

const BITMAP = { recording: true, persistent: true, busy: false, granularity: 65536, count: 0 };

describe.skipIf(skipWithout('qemu-img', 'qemu-io', 'qemu-storage-daemon'))('orchestrator snapshot flow', () => {
  it('creates, adds and snapshots two disks at once, with the answers and images QSD gives', async () => {
    const ours = await flowOn('qmpd');
    expect(ours.nodes.ov0).toEqual({
      drv: 'qcow2',
      ro: false,
      backing_file: 'base0.qcow2',
      backing_file_depth: 1,
      format: 'qcow2',
      virtualSize: DISK_SIZE,
      backingFilename: 'base0.qcow2',
      backingFormat: 'qcow2',
      bitmaps: [{ name: 'b1', ...BITMAP }],
    });
    expect(ours.nodes.base0).toMatchObject({ ro: true, bitmaps: [{ name: 'b0', ...BITMAP, recording: false }] });
    expect(ours.nodes.ov1).toMatchObject({ backing_file: 'base1.qcow2', bitmaps: [{ name: 'b1', ...BITMAP }] });
    expect(Object.keys(ours.nodes).sort()).toEqual(
      ['base0', 'base0-file', 'base1', 'base1-file', 'ov0', 'ov0-file', 'ov1', 'ov1-file'].sort(),
    );
    expect(ours.block).toEqual([]);
    expect(ours.jobs).toEqual([]);
    expect(ours.checks).toEqual(['No errors were found on the image.', 'No errors were found on the image.']);
    expect(ours.read).toBe(true);
    for (const [i, image] of ours.images.entries()) {
      expect(image).toMatchObject({
        format: 'qcow2',
        'virtual-size': DISK_SIZE,
        'cluster-size': 65536,
        'backing-filename': `base${i}.qcow2`,
        'backing-filename-format': 'qcow2',
      });
    }

    const theirs = await flowOn('qsd');
    expect(ours).toEqual(theirs);
  });

  async function failuresOn(kind: DaemonKind) {
    await using d = await TestDaemon.start({ kind });
    makeBases((name) => d.path(name));
    const t = await QmpTranscript.connect(d.socketPath);
    await addBases(t);
    await createAll(t, [['cs', { driver: 'file', filename: 'scratch.img', size: 0 }]]);
    await dismissAll(t, ['cs']);
    await t.execute('blockdev-add', { driver: 'file', filename: 'scratch.img', 'node-name': 'scratch' });
    const namesBefore = (await t.execute<Message[]>('query-named-block-nodes')).map((n) => n['node-name']).sort();

    const failing: [string, Record<string, unknown>][] = [
      // the base's image is open for writing by base0
      ['lock', { driver: 'file', filename: 'base0.qcow2', size: 0 }],
      ['dup', { driver: 'qcow2', file: { driver: 'file', filename: 'scratch.img', 'node-name': 'base0-file' }, size: DISK_SIZE }],
      ['odd', { driver: 'qcow2', file: 'scratch', size: 1000 }],
      ['busy', { driver: 'qcow2', file: 'base0-file', size: DISK_SIZE }],
      ['gone', { driver: 'qcow2', file: 'nosuch', size: DISK_SIZE }],
    ];
    await t.run(...failing.map(([id, options]) => create(id, options)));
    for (const [id] of failing) await t.waitJobStatus(id, 'concluded');
    const errors = Object.fromEntries(
      (await t.execute<Message[]>('query-jobs')).map((j) => [j.id, [j.status, j.error, j['current-progress']]]),
    );
    const dupAdd = (await t.run({ execute: 'blockdev-add', arguments: { driver: 'qcow2', 'node-name': 'base0', file: 'scratch' } }))[0]!;
    const namesAfter = (await t.execute<Message[]>('query-named-block-nodes')).map((n) => n['node-name']).sort();
    await dismissAll(t, failing.map(([id]) => id));
    const jobsLeft = await t.execute('query-jobs');
    await t.execute('quit');
    await d.waitExit();
    const base = run('qemu-io', ['-c', 'read -P 0x11 0 1M', d.path('base0.qcow2')]).includes('read 1048576/1048576');
    run('qemu-img', ['check', d.path('base0.qcow2')]);
    return { errors, dupAdd: dupAdd.error, unchanged: namesBefore.join() === namesAfter.join(), jobsLeft, base };
  }

  it('leaves nothing behind when creates fail (image in use, existing node-name, sizes that do not fit), as QSD', async () => {
    const ours = await failuresOn('qmpd');
    expect(ours.errors).toEqual({
      lock: ['concluded', 'Failed to get "write" lock', 1],
      dup: ['concluded', "Duplicate nodes with node-name='base0-file'", 1],
      odd: ['concluded', 'Image size must be a multiple of 512 bytes', 1],
      busy: [
        'concluded',
        "Permission conflict on node 'base0-file': permissions 'write, resize' are both required by an unnamed block device (uses node 'base0-file' as 'root' child) and unshared by node 'base0' (uses node 'base0-file' as 'file' child).",
        1,
      ],
      gone: ['concluded', "Cannot find device='nosuch' nor node-name='nosuch'", 1],
    });
    expect(ours.dupAdd).toEqual({ class: 'GenericError', desc: "Duplicate nodes with node-name='base0'" });
    expect(ours.unchanged).toBe(true);
    expect(ours.jobsLeft).toEqual([]);
    expect(ours.base).toBe(true);
    expect(ours).toEqual(await failuresOn('qsd'));
  });

  it('pauses, resumes and cancels a running create; the cancelled file is removed (QSD would finish and keep it)', async () => {
    await using d = await TestDaemon.start();
    const t = await QmpTranscript.connect(d.socketPath);
    // 8 GiB of zeroes takes far longer to write than the commands that follow need
    const big = { driver: 'file', filename: 'big.img', size: 8 * 1024 ** 3, preallocation: 'full' };
    const [created, paused] = await t.run(create('big', big), { execute: 'job-pause', arguments: { id: 'big' } });
    expect([created!.return, paused!.return]).toEqual([{}, {}]);
    await t.waitJobStatus('big', 'paused');
    expect(await t.execute('query-jobs')).toEqual([
      { id: 'big', type: 'create', status: 'paused', 'current-progress': 0, 'total-progress': 1 },
    ]);
    expect(existsSync(d.path('big.img'))).toBe(true);
    const [resumed, cancelled] = await t.run(
      { execute: 'job-resume', arguments: { id: 'big' } },
      { execute: 'job-cancel', arguments: { id: 'big' } },
    );
    expect([resumed!.return, cancelled!.return]).toEqual([{}, {}]);
    await t.waitJobStatus('big', 'concluded');
    expect(t.jobStatuses('big').map((s) => s.status)).toEqual(['created', 'running', 'paused', 'running', 'aborting', 'concluded']);
    expect(await t.execute('query-jobs')).toEqual([
      { id: 'big', type: 'create', status: 'concluded', 'current-progress': 1, 'total-progress': 1, error: 'Operation canceled' },
    ]);
    expect(existsSync(d.path('big.img'))).toBe(false);
    expect(await t.execute('query-named-block-nodes')).toEqual([]);
    await dismissAll(t, ['big']);
    t.close();
  });
});
