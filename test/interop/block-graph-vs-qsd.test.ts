/**
 * x-debug-query-block-graph and query-named-block-nodes, as they come off the
 * wire, against qemu-storage-daemon: the same graph (exports, an image with a
 * backing file opened from its header, a raw node whose file a reopen
 * replaces, a snapshot) must give the same lists in the same order, with the
 * same ids and permission lists, once automatic node names are numbered by
 * first appearance (QEMU makes them with random digits).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TestDaemon, type DaemonKind } from '../helpers/daemon.js';
import { skipWithout } from '../helpers/tools.js';

/** '#block<counter><2 random digits>' → '#auto<n>', n by first appearance in the text. */
function numberAutoNames(text: string): string {
  const seen = new Map<string, string>();
  return text.replace(/#block\d+/g, (name) => {
    if (!seen.has(name)) seen.set(name, `#auto${seen.size}`);
    return seen.get(name)!;
  });
}

async function graphAnswers(kind: DaemonKind): Promise<string[]> {
  await using d = await TestDaemon.start({ kind });
  const img = (args: string[]) => execFileSync('qemu-img', ['create', '-q', ...args], { cwd: d.dir });
  img(['-f', 'qcow2', 'base.qcow2', '1M']);
  img(['-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'top.qcow2']);
  img(['-f', 'raw', 'r.img', '1M']);
  img(['-f', 'raw', 'r2.img', '2M']);
  const q = await d.connect();
  const answers: string[] = [];
  const graph = async () => {
    answers.push(JSON.stringify(await q.execute('x-debug-query-block-graph')));
    answers.push(JSON.stringify(await q.execute('query-named-block-nodes', { flat: true })));
  };
  await q.execute('blockdev-add', { driver: 'qcow2', 'node-name': 'top', file: { driver: 'file', filename: d.path('top.qcow2') } });
  await q.execute('blockdev-add', { driver: 'raw', 'node-name': 'r', file: { driver: 'file', filename: d.path('r.img'), 'node-name': 'rf' } });
  await q.execute('nbd-server-start', { addr: { type: 'unix', data: { path: d.path('nbd.sock') } } });
  await q.execute('block-export-add', { type: 'nbd', id: 'e1', 'node-name': 'top', writable: true });
  await q.execute('block-export-add', { type: 'nbd', id: 'e2', 'node-name': 'r' });
  await graph();
  await q.execute('blockdev-add', { driver: 'file', 'node-name': 'f2', filename: d.path('r2.img') });
  await q.execute('blockdev-reopen', { options: [{ driver: 'raw', 'node-name': 'r', file: 'f2' }] });
  await q.execute('blockdev-snapshot-sync', { 'node-name': 'top', 'snapshot-file': d.path('s.qcow2'), 'snapshot-node-name': 's' });
  await graph();
  return answers.map((a) => numberAutoNames(a.replaceAll(d.dir, '$DIR')));
}

describe.skipIf(skipWithout('qemu-storage-daemon', 'qemu-img'))('the block graph as QSD lists it', () => {
  it('has the same nodes, edges, ids and permission lists, in the same order', async () => {
    const [ours, theirs] = await Promise.all([graphAnswers('qmpd'), graphAnswers('qsd')]);
    expect(ours).toHaveLength(4);
    // the raw node now reads f2, and its old file node is gone
    expect(ours[2]).toContain('"name":"f2"');
    expect(ours[2]).not.toContain('"name":"rf"');
    for (let i = 0; i < ours.length; i++) expect(ours[i]).toBe(theirs[i]);
  });
});
