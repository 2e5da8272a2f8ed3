/**
 * Transactions on real qcow2 images, checked with QEMU's tools: what a
 * committed snapshot leaves on disk, what an abort leaves (nothing), writes in
 * flight across snapshots (none lost, none in the wrong layer), and the
 * deadlock shape QEMU fixed: a request that holds the qcow2 metadata lock
 * inside the image is in flight while a snapshot drains; it completes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockBackend } from '../../src/block/backend.js';
import { addBitmap } from '../../src/block/bitmap-ops.js';
import { blockdevAdd } from '../../src/block/blockdev.js';
import type { BlockDriver } from '../../src/block/drivers/driver.js';
import { fileDriver } from '../../src/block/drivers/file.js';
import '../../src/block/drivers/index.js';
import { registerDriver } from '../../src/block/drivers/registry.js';
import { GraphChange } from '../../src/block/graph-change.js';
import { BlockGraph } from '../../src/block/graph.js';
import type { BlockNode } from '../../src/block/node.js';
import { refreshPerms } from '../../src/block/perm-refresh.js';
import { PERM_ALL, PERM_CONSISTENT_READ, PERM_RESIZE, PERM_WRITE } from '../../src/block/permissions.js';
import '../../src/block/transaction/actions/index.js';
import { runTransaction, type TransactionRequest } from '../../src/block/transaction/runner.js';
import { silentLogger } from '../../src/log.js';
import { skipWithout } from '../helpers/tools.js';
import { dict } from '../helpers/qdict.js';

const MiB = 1024 * 1024;

/** `file` with a gate in front of its writes, so a test can hold requests inside the image. */
class WriteGate {
  held = 0;
  private closed = false;
  private waiters: (() => void)[] = [];
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.closed = false;
    for (const w of this.waiters.splice(0)) w();
  }
  async pass(): Promise<void> {
    if (!this.closed) return;
    this.held++;
    await new Promise<void>((r) => this.waiters.push(r));
    this.held--;
  }
}
const gates = new Map<string, WriteGate>();
const gatedFile: BlockDriver = {
  ...fileDriver,
  name: 'test-gated-file',
  async open(ctx) {
    const inner = await fileDriver.open(ctx);
    const gate = new WriteGate();
    gates.set(ctx.options.filename as string, gate);
    const write = inner.write!.bind(inner);
    inner.write = async (offset, data, flags) => {
      await gate.pass();
      return write(offset, data, flags);
    };
    return inner;
  },
};
registerDriver(gatedFile);


function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

/** An export-like writable backend on `node`. */
function attachBackend(graph: BlockGraph, node: BlockNode): BlockBackend {
  const bb = new BlockBackend('', PERM_CONSISTENT_READ | PERM_WRITE, PERM_ALL & ~PERM_RESIZE);
  const change = new GraphChange();
  change.link(bb.attach(node));
  refreshPerms(change, graph.locks, [node]);
  change.commit();
  graph.anonymous.add(bb);
  return bb;
}

/** Access modes of this process's descriptors open on `path` (Linux /proc). */
function fdAccessModes(path: string): string[] {
  const modes: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the directory's own descriptor)
    }
    if (target !== path) continue;
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
    modes.push((parseInt(flags, 8) & 3) === 0 ? 'ro' : 'rw');
  }
  return modes;
}

function snapshot(node: string, file: string, name: string): TransactionRequest {
  return { type: 'blockdev-snapshot-sync', data: dict({ 'node-name': node, 'snapshot-file': file, 'snapshot-node-name': name }) };
}

describe.skipIf(skipWithout('qemu-img', 'qemu-io'))('transactions on real images', () => {
  let dir: string;
  let graph: BlockGraph;
  const log = silentLogger();
  const p = (n: string) => join(dir, n);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tx-'));
    graph = new BlockGraph(log);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function disk(name: string, driver = 'file'): Promise<BlockNode> {
    qemuImg('create', '-q', '-f', 'qcow2', p(`${name}.qcow2`), '64M');
    return blockdevAdd(graph, dict({ driver: 'qcow2', 'node-name': name, file: dict({ driver, filename: p(`${name}.qcow2`) }) }));
  }

  it('commits overlays whose headers name the old images, with data after the snapshot in the overlay only', async () => {
    const a = await disk('a');
    const b = await disk('b');
    const bbA = attachBackend(graph, a);
    attachBackend(graph, b);
    await bbA.write(0, Buffer.alloc(64 * 1024, 0x11));
    await bbA.flush();
    const baseSum = sha(p('a.qcow2'));
    await runTransaction(graph, log, [snapshot('a', p('a1.qcow2'), 'a1'), snapshot('b', p('b1.qcow2'), 'b1')], 'individual');
    expect(bbA.node!.nodeName).toBe('a1');
    expect(graph.findNode('a')!.readOnly).toBe(true);
    await bbA.write(64 * 1024, Buffer.alloc(64 * 1024, 0x22));
    await bbA.flush();
    expect(sha(p('a.qcow2'))).toBe(baseSum); // the base is frozen
    for (const [top, base] of [['a1', 'a'], ['b1', 'b']]) {
      const info = JSON.parse(qemuImg('info', '-U', '--output=json', p(`${top}.qcow2`))) as Record<string, unknown>;
      expect(info['backing-filename']).toBe(p(`${base}.qcow2`));
      expect(info['backing-filename-format']).toBe('qcow2');
      expect(qemuImg('check', '-U', p(`${top}.qcow2`))).toContain('No errors were found');
      expect(qemuImg('check', '-U', p(`${base}.qcow2`))).toContain('No errors were found');
    }
    const io = (img: string, ...cmds: string[]) =>
      execFileSync('qemu-io', ['-U', '-r', '-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), img], { encoding: 'utf8' });
    expect(io(p('a.qcow2'), 'read -q -P 0x11 0 64k', 'read -q -P 0 64k 64k')).toBe('');
    expect(io(p('a1.qcow2'), 'read -q -P 0x11 0 64k', 'read -q -P 0x22 64k 64k')).toBe('');
    // only the second write is allocated in the overlay
    const map = JSON.parse(qemuImg('map', '-U', '--output=json', p('a1.qcow2'))) as { start: number; depth: number; data: boolean }[];
    expect(map.find((m) => m.start === 0)!.depth).toBe(1);
    expect(map.find((m) => m.start === 64 * 1024)!.depth).toBe(0);
  });

  it('reopens the base read-only after the answer, while reads through the overlay go on', async () => {
    const a = await disk('a');
    const bb = attachBackend(graph, a);
    await bb.write(0, Buffer.alloc(4096, 0x33));
    const accessModes = () => fdAccessModes(p('a.qcow2'));
    expect(accessModes()).toEqual(['rw']);
    await runTransaction(graph, log, [snapshot('a', p('a1.qcow2'), 'a1')], 'individual');
    // reads issued right away wait for the reopen's drained section, then see the base's data
    const reads = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const buf = Buffer.alloc(4096);
        await bb.read(0, buf);
        return buf.every((x) => x === 0x33);
      }),
    );
    expect(reads.every(Boolean)).toBe(true);
    expect(accessModes()).toEqual(['ro']);
  });

  it('leaves graph, read-only flags, bitmaps and every file as they were when a later action fails', async () => {
    const a = await disk('a');
    await disk('b');
    attachBackend(graph, a);
    addBitmap(graph, { node: 'a', name: 'bm' });
    qemuImg('create', '-q', '-f', 'qcow2', p('existing.qcow2'), '1M');
    const files = () => Object.fromEntries(readdirSync(dir).map((f) => [f, sha(p(f))]));
    const before = files();
    const graphBefore = graph.newestFirst().map((n) => [n.nodeName, n.readOnly, n.bitmaps.map((x) => x.name)]);
    await expect(
      runTransaction(
        graph,
        log,
        [
          snapshot('a', p('a1.qcow2'), 'a1'),
          { type: 'block-dirty-bitmap-add', data: dict({ node: 'a1', name: 'new' }) },
          snapshot('b', p('existing.qcow2'), 'b1'), // an existing file is replaced only at commit
          { type: 'abort', data: dict({}) },
        ],
        'individual',
      ),
    ).rejects.toThrow('Transaction aborted using Abort action');
    expect(graph.newestFirst().map((n) => [n.nodeName, n.readOnly, n.bitmaps.map((x) => x.name)])).toEqual(graphBefore);
    expect(files()).toEqual(before);
    expect(existsSync(p('a1.qcow2'))).toBe(false);
  });

  it('refuses to overwrite an image that a node has open, before touching anything', async () => {
    await disk('a');
    await disk('b');
    const sum = sha(p('b.qcow2'));
    await expect(runTransaction(graph, log, [snapshot('a', p('b.qcow2'), 'a1')], 'individual')).rejects.toThrow(
      `Could not create '${p('b.qcow2')}': the image is in use by node 'b'`,
    );
    expect(sha(p('b.qcow2'))).toBe(sum);
  });

  it('completes a snapshot while a write holds the qcow2 metadata lock inside the image (QEMU deadlock shape)', async () => {
    const a = await disk('a', 'test-gated-file');
    const bb = attachBackend(graph, a);
    const gate = gates.get(p('a.qcow2'))!;
    gate.close();
    // an allocating write: qcow2 takes its metadata lock and then writes to the file, where it is held
    const write = bb.write(1 * MiB, Buffer.alloc(64 * 1024, 0x5a));
    await new Promise((r) => setTimeout(r, 20));
    expect(gate.held).toBeGreaterThan(0);
    // the snapshot drains (waits for the write) and then flushes (needs the lock the write holds)
    let done = false;
    const tx = runTransaction(graph, log, [snapshot('a', p('a1.qcow2'), 'a1')], 'individual').then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    gate.open();
    await tx;
    await write;
    await bb.flush();
    // the write was admitted before the snapshot: it belongs to the base
    const io = execFileSync('qemu-io', ['-U', '-r', '-f', 'qcow2', '-c', 'read -q -P 0x5a 1M 64k', p('a.qcow2')], { encoding: 'utf8' });
    expect(io).toBe('');
  });

  it('loses no write and puts none in the wrong layer, with many writers and successive snapshots (property)', async () => {
    const SLOT = 64 * 1024;
    const SLOTS = 512; // 32 MiB of the 64 MiB disk, each slot written once
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: SLOTS - 1 }), { minLength: 40, maxLength: 120 }), fc.integer({ min: 2, max: 5 }), async (slotsRaw, snaps) => {
        rmSync(dir, { recursive: true, force: true });
        dir = mkdtempSync(join(tmpdir(), 'tx-'));
        graph = new BlockGraph(log);
        const base = await disk('d0');
        const bb = attachBackend(graph, base);
        const slots = [...new Set(slotsRaw)];
        const finishedBefore = new Map<number, number>(); // slot → snapshots committed before it was issued
        let committed = 0;
        const writes = slots.map(async (slot, i) => {
          await new Promise((r) => setTimeout(r, (i % 10) * 2));
          finishedBefore.set(slot, committed);
          await bb.write(slot * SLOT, Buffer.alloc(SLOT, (slot % 250) + 1));
        });
        const tx = (async () => {
          for (let s = 1; s <= snaps; s++) {
            await new Promise((r) => setTimeout(r, 3));
            await runTransaction(graph, log, [snapshot(`d${s - 1}`, p(`d${s}.qcow2`), `d${s}`)], 'individual');
            committed = s;
          }
        })();
        await Promise.all([...writes, tx]);
        await bb.flush();
        // every slot reads back through the top, and lives in a layer no older than the top when issued
        const top = bb.node!;
        for (const slot of slots) {
          const buf = Buffer.alloc(SLOT);
          await top.read(slot * SLOT, buf);
          expect(buf.every((x) => x === (slot % 250) + 1)).toBe(true);
          const s = await top.blockStatusAbove(slot * SLOT, SLOT);
          const layer = snaps - (s.depth - 1); // depth 1 = top = d{snaps}
          expect(layer).toBeGreaterThanOrEqual(finishedBefore.get(slot)!);
        }
        for (let s = 0; s <= snaps; s++) expect(qemuImg('check', '-U', p(`d${s}.qcow2`))).toContain('No errors were found');
      }),
      { numRuns: 5 },
    );
  }, 120_000);
});
