/**
 * The command flow a libvirt-like orchestrator runs for external snapshots in
 * blockdev mode, on several disks at once: blockdev-create the overlay's file
 * and qcow2 (jobs, waited for through JOB_STATUS_CHANGE, then dismissed),
 * blockdev-add both nodes with `backing: null`, then one `transaction` with
 * blockdev-snapshot and dirty-bitmap actions. Works against qmpd and QSD.
 */
import { expect } from 'vitest';
import type { Message, QmpTranscript } from './qmp-transcript.js';
import { run } from './tools.js';

export const DISK_SIZE = 64 * 1024 * 1024;
export const DISKS = [0, 1] as const;

/** Base images with data in disk 0, made with qemu-img/qemu-io before the flow. */
export function makeBases(path: (name: string) => string): void {
  for (const i of DISKS) run('qemu-img', ['create', '-q', '-f', 'qcow2', path(`base${i}.qcow2`), String(DISK_SIZE)]);
  run('qemu-io', ['-c', 'write -P 0x11 0 1M', path('base0.qcow2')]);
}

export function create(jobId: string, options: Record<string, unknown>) {
  return { execute: 'blockdev-create', arguments: { 'job-id': jobId, options } };
}

/**
 * Runs blockdev-create for every job at once (one write) and checks QSD's
 * shape for each: created and running before its reply, then waiting,
 * pending, concluded after it; query-jobs shows them concluded without error.
 */
export async function createAll(t: QmpTranscript, jobs: [string, Record<string, unknown>][]): Promise<void> {
  const replies = await t.run(...jobs.map(([id, options]) => create(id, options)));
  for (const [k, [id]] of jobs.entries()) {
    expect(replies[k]!.return).toEqual({});
    await t.waitJobStatus(id, 'concluded');
    const statuses = t.jobStatuses(id);
    expect(statuses.map((s) => s.status)).toEqual(['created', 'running', 'waiting', 'pending', 'concluded']);
    const replyAt = t.messages.indexOf(replies[k]!);
    expect(statuses[1]!.at).toBeLessThan(replyAt);
    expect(statuses[2]!.at).toBeGreaterThan(replyAt);
  }
  const listed = await t.execute<Message[]>('query-jobs');
  for (const [id] of jobs) {
    expect(listed).toContainEqual({ id, type: 'create', status: 'concluded', 'current-progress': 1, 'total-progress': 1 });
  }
}

/** job-dismiss for each: the `null` event comes before the reply. */
export async function dismissAll(t: QmpTranscript, ids: string[]): Promise<void> {
  const replies = await t.run(...ids.map((id) => ({ execute: 'job-dismiss', arguments: { id } })));
  for (const [k, id] of ids.entries()) {
    expect(replies[k]!.return).toEqual({});
    const nulls = t.jobStatuses(id).filter((s) => s.status === 'null');
    expect(nulls).toHaveLength(1);
    expect(nulls[0]!.at).toBeLessThan(t.messages.indexOf(replies[k]!));
  }
}

export async function addBases(t: QmpTranscript): Promise<void> {
  for (const i of DISKS) {
    await t.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': `base${i}`,
      file: { driver: 'file', filename: `base${i}.qcow2`, 'node-name': `base${i}-file` },
    });
  }
  await t.execute('block-dirty-bitmap-add', { node: 'base0', name: 'b0', persistent: true });
}

/** The whole flow on both disks; every step's answer is checked on the way. */
export async function orchestratorFlow(t: QmpTranscript): Promise<void> {
  await createAll(
    t,
    DISKS.map((i) => [`cf${i}`, { driver: 'file', filename: `ov${i}.qcow2`, size: 0 }]),
  );
  await dismissAll(t, DISKS.map((i) => `cf${i}`));
  const fileAdds = await t.run(
    ...DISKS.map((i) => ({
      execute: 'blockdev-add',
      arguments: { driver: 'file', filename: `ov${i}.qcow2`, 'node-name': `ov${i}-file` },
    })),
  );
  for (const r of fileAdds) expect(r.return).toEqual({});

  await createAll(
    t,
    DISKS.map((i) => [
      `cq${i}`,
      { driver: 'qcow2', file: `ov${i}-file`, size: DISK_SIZE, 'backing-file': `base${i}.qcow2`, 'backing-fmt': 'qcow2' },
    ]),
  );
  await dismissAll(t, DISKS.map((i) => `cq${i}`));
  const formatAdds = await t.run(
    ...DISKS.map((i) => ({
      execute: 'blockdev-add',
      arguments: { driver: 'qcow2', 'node-name': `ov${i}`, file: `ov${i}-file`, backing: null },
    })),
  );
  for (const r of formatAdds) expect(r.return).toEqual({});

  const before = t.messages.length;
  await t.execute('transaction', {
    actions: [
      { type: 'blockdev-snapshot', data: { node: 'base0', overlay: 'ov0' } },
      { type: 'block-dirty-bitmap-disable', data: { node: 'base0', name: 'b0' } },
      { type: 'block-dirty-bitmap-add', data: { node: 'ov0', name: 'b1', persistent: true } },
      { type: 'blockdev-snapshot', data: { node: 'base1', overlay: 'ov1' } },
      { type: 'block-dirty-bitmap-add', data: { node: 'ov1', name: 'b1', persistent: true } },
    ],
  });
  // none of the transaction's actions sends events
  expect(t.messages.slice(before).filter((m) => 'event' in m)).toEqual([]);
}

export interface NodeView {
  drv: unknown;
  ro: unknown;
  backing_file: unknown;
  backing_file_depth: unknown;
  format: unknown;
  virtualSize: unknown;
  backingFilename: unknown;
  backingFormat: unknown;
  bitmaps: unknown;
}

/** The members of query-named-block-nodes the flow is about, by node name (sizes of protocol nodes left out). */
export function nodeViews(nodes: Message[]): Record<string, NodeView> {
  const out: Record<string, NodeView> = {};
  for (const n of nodes) {
    const image = n.image as Record<string, unknown>;
    out[n['node-name'] as string] = {
      drv: n.drv,
      ro: n.ro,
      backing_file: n.backing_file,
      backing_file_depth: n.backing_file_depth,
      format: image.format,
      virtualSize: n.drv === 'file' ? 'n/a' : image['virtual-size'],
      backingFilename: image['backing-filename'],
      backingFormat: image['backing-filename-format'],
      bitmaps: n['dirty-bitmaps'],
    };
  }
  return out;
}
