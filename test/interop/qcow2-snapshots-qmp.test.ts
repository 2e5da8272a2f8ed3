/**
 * The internal snapshot commands through the daemon, side by side with
 * qemu-storage-daemon: the same commands on the same images give the same
 * answers (error texts included, snapshot times aside), query-named-block-nodes
 * shows the same SnapshotInfo list, and the images end up the same for
 * qemu-img. One difference on purpose: after QSD fails to delete a snapshot
 * of a read-only image it forgets the snapshot in memory (it is still in
 * the file); qmpd keeps listing it.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import { skipWithout } from '../helpers/tools.js';

const SETUP = [
  'qemu-img create -q -f qcow2 base.qcow2 64M',
  'qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2',
  'qemu-img create -q -f qcow2 ro.qcow2 1M',
  'qemu-img snapshot -c rs ro.qcow2',
  'qemu-img create -q -f raw r.img 1M',
  'qemu-img create -q -f qcow2 q.qcow2 1M',
  'qemu-io -f qcow2 -c "write -q -P 7 0 64k" q.qcow2',
  'qemu-img snapshot -c fromqemu q.qcow2',
];

const NODES = [
  {
    driver: 'qcow2',
    'node-name': 'top',
    file: { driver: 'file', filename: 'top.qcow2', 'node-name': 'topf' },
    backing: { driver: 'qcow2', 'node-name': 'base', file: { driver: 'file', filename: 'base.qcow2' } },
  },
  { driver: 'qcow2', 'node-name': 'ro', 'read-only': true, file: { driver: 'file', filename: 'ro.qcow2' } },
  { driver: 'raw', 'node-name': 'r', file: { driver: 'file', filename: 'r.img' } },
  { driver: 'qcow2', 'node-name': 'q', file: { driver: 'file', filename: 'q.qcow2' } },
];

const isnap = (device: string, name: string): [string, Record<string, unknown>] => [
  'blockdev-snapshot-internal-sync',
  { device, name },
];
const idel = (device: string, more: Record<string, string>): [string, Record<string, unknown>] => [
  'blockdev-snapshot-delete-internal-sync',
  { device, ...more },
];
const tx = (actions: [string, string][], grouped = false): [string, Record<string, unknown>] => [
  'transaction',
  {
    actions: actions.map(([device, name]) => ({ type: 'blockdev-snapshot-internal-sync', data: { device, name } })),
    ...(grouped ? { properties: { 'completion-mode': 'grouped' } } : {}),
  },
];

const COMMANDS: [string, Record<string, unknown>][] = [
  isnap('nosuch', 's'),
  isnap('base', 's'),
  isnap('topf', 's'),
  isnap('ro', ''),
  isnap('r', ''),
  isnap('top', ''),
  idel('top', {}),
  idel('r', { name: 'x' }),
  idel('ro', { name: 'nosuch' }),
  idel('ro', { name: 'rs' }),
  idel('top', { id: '1' }),
  idel('top', { id: '', name: '' }),
  isnap('top', 's1'),
  isnap('top', '1'),
  isnap('top', 's1'),
  idel('top', { id: '1', name: '1' }),
  idel('top', { name: '1' }),
  idel('q', { id: '1' }),
  isnap('q', 'again'),
  isnap('q', 'n'.repeat(300)),
  tx([['top', 't1']], true),
  tx([['nosuch', 't1']], true),
  tx([
    ['top', 't1'],
    ['top', 't1'],
  ]),
  tx([
    ['top', 't1'],
    ['q', 't2'],
  ]),
  tx([
    ['top', 't3'],
    ['ro', 't2'],
  ]),
  ['query-named-block-nodes', { flat: true }],
];

const TIMES = new Set(['date-sec', 'date-nsec', 'vm-clock-sec', 'vm-clock-nsec', 'actual-size']);

/** Answers with times, sizes on the host and generated node names blanked. */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = TIMES.has(k) ? typeof x : normalize(x);
    return out;
  }
  return typeof v === 'string' ? v.replace(/#block\d+/g, '#blockN') : v;
}

async function play(kind: DaemonKind): Promise<{ answers: unknown[]; images: string }> {
  await using d = await TestDaemon.start({ kind });
  for (const cmd of SETUP) execFileSync('sh', ['-c', cmd], { cwd: d.dir });
  const c = await d.connect();
  for (const n of NODES) await c.execute('blockdev-add', n);
  const answers: unknown[] = [];
  for (const [cmd, args] of COMMANDS) answers.push(normalize(await c.command(cmd, args)));
  await c.command('quit');
  await d.waitExit();
  const images = execFileSync(
    'sh',
    ['-c', "for f in *.qcow2; do echo $f; qemu-img snapshot -l $f | sed 1,2d | awk '{print $1, $2}'; qemu-img check $f; done"],
    { cwd: d.dir, encoding: 'utf8' },
  );
  return { answers, images };
}

describe.skipIf(skipWithout('qemu-storage-daemon', 'qemu-img', 'qemu-io'))('internal snapshot commands against QSD', () => {
  it('answer every command as qemu-storage-daemon does and leave the same images', async () => {
    const [ours, theirs] = [await play('qmpd'), await play('qsd')];
    const last = COMMANDS.length - 1;
    for (let i = 0; i < last; i++) expect({ i, cmd: COMMANDS[i], answer: ours.answers[i] }).toEqual({ i, cmd: COMMANDS[i], answer: theirs.answers[i] });
    const nodes = (a: unknown) => (a as { return: { 'node-name': string; image: Record<string, unknown> }[] }).return;
    const qsdNodes = nodes(theirs.answers[last]);
    for (const n of nodes(ours.answers[last])) {
      // generated node names differ: those nodes are matched by file and format
      const same = qsdNodes.find((x) =>
        n['node-name'].startsWith('#')
          ? x['node-name'].startsWith('#') && x.image.filename === n.image.filename && x.image.format === n.image.format
          : x['node-name'] === n['node-name'],
      );
      if (n['node-name'] === 'ro') {
        expect(n.image.snapshots).toEqual([
          { id: '1', name: 'rs', 'vm-state-size': 0, icount: 0, 'date-sec': 'number', 'date-nsec': 'number', 'vm-clock-sec': 'number', 'vm-clock-nsec': 'number' },
        ]);
        expect(same!.image.snapshots).toBeUndefined();
        continue;
      }
      expect(n).toEqual(same);
    }
    expect(ours.images).toBe(theirs.images);
    expect(ours.images).toMatch(/q\.qcow2\n1 again\n2 n{255}\n3 t2\n/);
  });
});
