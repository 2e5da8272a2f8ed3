import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockBackend } from '../../../src/block/backend.js';
import { blockdevAdd, blockdevDel } from '../../../src/block/blockdev.js';
import '../../../src/block/drivers/index.js';
import { formatQcow2 } from '../../../src/block/drivers/qcow2/create.js';
import { HostFileIo } from '../../../src/block/host-file-io.js';
import { GraphChange } from '../../../src/block/graph-change.js';
import { BlockGraph } from '../../../src/block/graph.js';
import { blockDeviceInfo, blockGraphInfo } from '../../../src/block/info.js';
import { refreshPerms } from '../../../src/block/perm-refresh.js';
import { PERM_ALL, PERM_CONSISTENT_READ, PERM_WRITE } from '../../../src/block/permissions.js';
import { silentLogger } from '../../../src/log.js';
import { dict } from '../../helpers/qdict.js';


describe('BlockGraph', () => {
  let dir: string;
  let graph: BlockGraph;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'graph-'));
    writeFileSync(join(dir, 'r.img'), Buffer.alloc(1 << 20));
    const handle = await open(join(dir, 'q.qcow2'), 'w+');
    await formatQcow2(new HostFileIo('q', handle, 0), { size: 1 << 20 });
    await handle.close();
    graph = new BlockGraph(silentLogger());
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const raw = (name: string, extra: Record<string, unknown> = {}) =>
    dict({ driver: 'raw', 'node-name': name, file: dict({ driver: 'file', filename: join(dir, 'r.img') }), ...extra });
  // a format node writes its metadata whenever it is writable, whoever its parents are
  const qcow2 = (name: string, extra: Record<string, unknown> = {}) =>
    dict({ driver: 'qcow2', 'node-name': name, file: dict({ driver: 'file', filename: join(dir, 'q.qcow2') }), ...extra });

  it('names implicit children #blockNNN and lists nodes newest first', async () => {
    await blockdevAdd(graph, raw('r1'));
    const names = graph.newestFirst().map((n) => n.nodeName);
    expect(names[0]).toBe('r1');
    expect(names[1]).toMatch(/^#block\d{3,}$/);
  });

  it('refuses bad, duplicate and too long node names with QEMU texts', async () => {
    await blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'n' }));
    await expect(blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'n' }))).rejects.toThrow("Duplicate nodes with node-name='n'");
    await expect(blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': '1bad' }))).rejects.toThrow("Invalid node-name: '1bad'");
    await expect(blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'a'.repeat(32) }))).rejects.toThrow('Node name too long');
    await blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'a'.repeat(31) }));
    await expect(blockdevAdd(graph, dict({ driver: 'null-co' }))).rejects.toThrow("'node-name' must be specified for the root node");
  });

  it('leaves nothing behind when opening fails halfway', async () => {
    const before = graph.size;
    await expect(blockdevAdd(graph, raw('bad name'))).rejects.toThrow("Invalid node-name: 'bad name'");
    expect(graph.size).toBe(before);
    await expect(blockdevAdd(graph, raw('r2', { offset: 4096, size: 8192000 }))).rejects.toThrow(
      'The sum of offset (4096) and size (8192000) has to be smaller or equal to the  actual size of the containing file (1048576)',
    );
    expect(graph.size).toBe(before);
  });

  it('reports a permission conflict between two writers of one file node as QEMU does', async () => {
    await blockdevAdd(graph, dict({ driver: 'file', 'node-name': 'f', filename: join(dir, 'q.qcow2') }));
    await blockdevAdd(graph, dict({ driver: 'qcow2', 'node-name': 'a', file: 'f' }));
    await expect(blockdevAdd(graph, dict({ driver: 'qcow2', 'node-name': 'b', file: 'f' }))).rejects.toThrow(
      "Permission conflict on node 'f': permissions 'write, resize' are both required by node 'a' (uses node 'f' as 'file' child) and unshared by node 'b' (uses node 'f' as 'file' child).",
    );
    expect(graph.findNode('b')).toBeUndefined();
    expect(graph.findNode('f')!.parents).toHaveLength(1);
  });

  it('refuses a second writer of the same image file with QEMU lock texts', async () => {
    await blockdevAdd(graph, qcow2('a'));
    await expect(blockdevAdd(graph, qcow2('b'))).rejects.toThrow('Failed to get "write" lock');
    await expect(blockdevAdd(graph, qcow2('c', { 'read-only': true }))).rejects.toThrow('Failed to get shared "write" lock');
  });

  it('lets raw nodes without writers share a file, as raw takes only what its parents need', async () => {
    await blockdevAdd(graph, dict({ driver: 'file', 'node-name': 'f', filename: join(dir, 'r.img') }));
    await blockdevAdd(graph, dict({ driver: 'raw', 'node-name': 'a', file: 'f' }));
    await blockdevAdd(graph, dict({ driver: 'raw', 'node-name': 'b', file: 'f', 'read-only': true }));
    expect(graph.findNode('f')!.parents).toHaveLength(2);
  });

  it('refuses a writer on a read-only node', async () => {
    await blockdevAdd(graph, dict({ driver: 'file', 'node-name': 'f', filename: join(dir, 'q.qcow2'), 'read-only': true }));
    await expect(blockdevAdd(graph, dict({ driver: 'qcow2', 'node-name': 'w', file: 'f' }))).rejects.toThrow('Block node is read-only');
  });

  it('deletes only monitor-owned nodes without users, with QEMU texts', async () => {
    await blockdevAdd(graph, dict({ driver: 'file', 'node-name': 'f', filename: join(dir, 'r.img') }));
    await blockdevAdd(graph, dict({ driver: 'raw', 'node-name': 'a', file: 'f' }));
    await expect(blockdevDel(graph, 'nosuch')).rejects.toThrow("Failed to find node with node-name='nosuch'");
    await expect(blockdevDel(graph, 'f')).rejects.toThrow('Block device f is in use');
    const implicit = graph.newestFirst().find((n) => n.autoNamed);
    expect(implicit).toBeUndefined();
    await blockdevDel(graph, 'a');
    await blockdevDel(graph, 'f');
    expect(graph.size).toBe(0);
  });

  it('computes edge permissions as QEMU 7.2 shows them (listed last to first)', async () => {
    await blockdevAdd(graph, qcow2('a'));
    const info = blockGraphInfo(graph);
    const edge = info.edges.find((e) => e.name === 'file')!;
    expect(edge.perm).toEqual(['resize', 'write', 'consistent-read']);
    expect(edge['shared-perm']).toEqual(['write-unchanged', 'consistent-read']);
  });

  it('gives an export-like backend write access and refuses it on a read-only node', async () => {
    await blockdevAdd(graph, qcow2('a', { 'read-only': true }));
    const node = graph.findNode('a')!;
    const bb = new BlockBackend('', PERM_CONSISTENT_READ | PERM_WRITE, PERM_ALL & ~8);
    const change = new GraphChange();
    change.link(bb.attach(node));
    expect(() => refreshPerms(change, graph.locks, [node])).toThrow('Block node is read-only');
    change.abort();
    expect(node.parents).toHaveLength(0);
  });

  it('reports null-co filenames as QEMU does', async () => {
    await blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'n1' }));
    await blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'n2', size: 1048576, 'read-zeroes': true }));
    expect((await blockDeviceInfo(graph.findNode('n1')!, true)).file).toBe('null-co://');
    expect((await blockDeviceInfo(graph.findNode('n2')!, true)).file).toBe('json:{"read-zeroes": true, "driver": "null-co", "size": 1048576}');
  });
});
