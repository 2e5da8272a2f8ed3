/**
 * blockdev-create against qemu-storage-daemon: for a table of option sets,
 * the same events in the same place relative to the reply, the same job
 * errors, and images that qemu-img describes identically and checks clean.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import { create } from '../helpers/orchestrator.js';
import { QmpTranscript, type Message } from '../helpers/qmp-transcript.js';
import { run, skipWithout } from '../helpers/tools.js';

const MIB = 1024 * 1024;

/** [job id, options]: each fails, before or after the reply, with QEMU's text. */
const FAILING: [string, Record<string, unknown>][] = [
  ['nodir', { driver: 'file', filename: 'nodir/a.img', size: MIB }],
  ['isdir', { driver: 'file', filename: '.', size: MIB }],
  ['hint', { driver: 'file', filename: 'h.img', size: MIB, 'extent-size-hint': 2 ** 33 }],
  ['meta', { driver: 'file', filename: 'm.img', size: MIB, preallocation: 'metadata' }],
  ['neg', { driver: 'file', filename: 'n.img', size: -1 }],
  ['nofile', { driver: 'qcow2', file: 'nosuch', size: MIB }],
  ['odd', { driver: 'qcow2', file: 'target', size: 1000 }],
  ['cl3000', { driver: 'qcow2', file: 'target', size: MIB, 'cluster-size': 3000 }],
  ['cl256', { driver: 'qcow2', file: 'target', size: MIB, 'cluster-size': 256 }],
  ['cl4m', { driver: 'qcow2', file: 'target', size: MIB, 'cluster-size': 4 * MIB }],
  ['v2lazy', { driver: 'qcow2', file: 'target', size: MIB, version: 'v2', 'lazy-refcounts': true }],
  ['rc3', { driver: 'qcow2', file: 'target', size: MIB, 'refcount-bits': 3 }],
  ['rc128', { driver: 'qcow2', file: 'target', size: MIB, 'refcount-bits': 128 }],
  ['v2rc8', { driver: 'qcow2', file: 'target', size: MIB, version: 'v2', 'refcount-bits': 8 }],
  ['fmt', { driver: 'qcow2', file: 'target', size: MIB, 'backing-fmt': 'raw' }],
  ['bprealloc', { driver: 'qcow2', file: 'target', size: MIB, 'backing-file': 'x', preallocation: 'full' }],
  ['v2zstd', { driver: 'qcow2', file: 'target', size: MIB, version: 'v2', 'compression-type': 'zstd' }],
  ['v2ext', { driver: 'qcow2', file: 'target', size: MIB, version: 'v2', 'extended-l2': true }],
  ['ext8k', { driver: 'qcow2', file: 'target', size: MIB, 'cluster-size': 8192, 'extended-l2': true }],
  ['v2data', { driver: 'qcow2', file: 'target', size: MIB, version: 'v2', 'data-file': 'target' }],
  ['rawnodata', { driver: 'qcow2', file: 'target', size: MIB, 'data-file-raw': true }],
  ['dupname', { driver: 'qcow2', file: { driver: 'file', filename: 'target.img', 'node-name': 'target' }, size: MIB }],
  ['noimg', { driver: 'qcow2', file: { driver: 'file', filename: 'missing.img' }, size: MIB }],
];

/** Refused before any job exists. */
const REFUSED: [string, Record<string, unknown>][] = [
  ['1bad', { driver: 'file', filename: 'x.img', size: 0 }],
  ['', { driver: 'file', filename: 'x.img', size: 0 }],
  ['nul', { driver: 'null-co' }],
  ['raw', { driver: 'raw' }],
];

/** The job's events and its reply, in arrival order: e.g. "created running return aborting concluded". */
function shape(t: QmpTranscript, jobId: string, reply: Message): string {
  return t.messages
    .filter((m) => m === reply || (m.event === 'JOB_STATUS_CHANGE' && (m.data as { id: string }).id === jobId))
    .map((m) => (m === reply ? 'return' : (m.data as { status: string }).status))
    .join(' ');
}

async function failuresOn(kind: DaemonKind) {
  await using d = await TestDaemon.start({ kind });
  run('qemu-img', ['create', '-q', '-f', 'raw', d.path('target.img'), '0']);
  const t = await QmpTranscript.connect(d.socketPath);
  await t.execute('blockdev-add', { driver: 'file', filename: 'target.img', 'node-name': 'target' });
  const out: Record<string, unknown> = {};
  for (const [id, options] of FAILING) {
    const [reply] = await t.run(create(id, options));
    await t.waitJobStatus(id, 'concluded');
    const job = (await t.execute<Message[]>('query-jobs')).find((j) => j.id === id)!;
    out[id] = [shape(t, id, reply!), job.error];
  }
  for (const [id, options] of REFUSED) out[`refused ${id}`] = (await t.run(create(id, options)))[0]!.error;
  out.nodes = (await t.execute<Message[]>('query-named-block-nodes')).map((n) => n['node-name']);
  t.close();
  const files = readdirSync(d.dir).filter((f) => f.endsWith('.img')).sort();
  return { answers: out, files };
}

/** Options that succeed; the image is described by qemu-img. */
const IMAGES: [string, Record<string, unknown>][] = [
  ['default', {}],
  ['v2', { version: 'v2' }],
  ['small-clusters', { 'cluster-size': 512, size: 3 * MIB }],
  ['big-clusters', { 'cluster-size': 2 * MIB }],
  ['refcount-1', { 'refcount-bits': 1 }],
  ['refcount-64', { 'refcount-bits': 64 }],
  ['lazy-refcounts', { 'lazy-refcounts': true, 'refcount-bits': 64 }],
  ['backing', { 'backing-file': 'base.qcow2', 'backing-fmt': 'qcow2' }],
  ['backing-v2', { 'backing-file': '/abs/base.raw', version: 'v2', 'cluster-size': 4096 }],
  ['empty', { size: 0 }],
  ['large', { size: 2 ** 40 }],
  ['extended-l2', { 'extended-l2': true }],
  ['extended-l2-16k', { 'extended-l2': true, 'cluster-size': 16384, size: 2 ** 40 }],
  ['zstd', { 'compression-type': 'zstd' }],
  ['zlib', { 'compression-type': 'zlib' }],
];

async function imagesOn(kind: DaemonKind) {
  await using d = await TestDaemon.start({ kind });
  const t = await QmpTranscript.connect(d.socketPath);
  const out: Record<string, unknown> = {};
  for (const [name, extra] of IMAGES) {
    await t.execute('blockdev-create', { 'job-id': `f-${name}`, options: { driver: 'file', filename: `${name}.qcow2`, size: 0 } });
    await t.waitJobStatus(`f-${name}`, 'concluded');
    await t.execute('blockdev-add', { driver: 'file', filename: `${name}.qcow2`, 'node-name': name });
    const options = { driver: 'qcow2', file: name, size: 16 * MIB, ...extra };
    await t.execute('blockdev-create', { 'job-id': `q-${name}`, options });
    await t.waitJobStatus(`q-${name}`, 'concluded');
    const job = (await t.execute<Message[]>('query-jobs')).find((j) => j.id === `q-${name}`)!;
    expect(job.error, name).toBeUndefined();
    await t.execute('blockdev-del', { 'node-name': name });
    const info = JSON.parse(run('qemu-img', ['info', '-U', '--output=json', d.path(`${name}.qcow2`)])) as Message;
    delete info['actual-size'];
    delete info.filename;
    delete info['full-backing-filename'];
    out[name] = info;
    if (!('backing-filename' in info)) run('qemu-img', ['check', d.path(`${name}.qcow2`)]);
  }
  t.close();
  return out;
}

describe.skipIf(skipWithout('qemu-img', 'qemu-storage-daemon'))('blockdev-create compared with QSD', () => {
  it('fails the same jobs with the same texts, before or after the reply as QSD does', async () => {
    const { answers: ours, files } = await failuresOn('qmpd');
    expect(ours.meta).toEqual(['created running return aborting concluded', 'Unsupported preallocation mode: metadata']);
    expect(ours.nofile).toEqual([
      'created running aborting concluded return',
      "Cannot find device='nosuch' nor node-name='nosuch'",
    ]);
    expect(ours['refused nul']).toEqual({ class: 'GenericError', desc: 'Driver does not support blockdev-create' });
    const theirs = await failuresOn('qsd');
    expect(ours).toEqual(theirs.answers);
    // Deliberate difference: qmpd removes the files its failed creates made; QSD leaves them empty.
    expect(files).toEqual(['target.img']);
    expect(theirs.files).toEqual(['m.img', 'n.img', 'target.img']);
  });

  it('creates qcow2 images that qemu-img describes as it describes QSD-made ones, and checks clean', async () => {
    const ours = await imagesOn('qmpd');
    expect(ours['refcount-64']).toMatchObject({ 'format-specific': { data: { 'refcount-bits': 64 } } });
    expect(ours).toEqual(await imagesOn('qsd'));
  });
});
