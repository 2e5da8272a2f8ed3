/**
 * Node filenames are kept between queries; every graph change below a node
 * must show in its filename at once, exactly as if worked out afresh.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockdevAdd } from '../../../src/block/blockdev.js';
import '../../../src/block/drivers/index.js';
import { formatQcow2 } from '../../../src/block/drivers/qcow2/create.js';
import { nodeFilename } from '../../../src/block/filename.js';
import { GraphChange } from '../../../src/block/graph-change.js';
import { BlockGraph } from '../../../src/block/graph.js';
import { HostFileIo } from '../../../src/block/host-file-io.js';
import type { BlockNode } from '../../../src/block/node.js';
import { silentLogger } from '../../../src/log.js';
import { dict } from '../../helpers/qdict.js';


/** Every node's filename worked out with no cache at all. */
function freshNames(graph: BlockGraph): Map<string, string> {
  const nodes = [...graph.allNodes()];
  const kept = nodes.map((n) => n.cachedFilename);
  for (const n of nodes) n.cachedFilename = undefined;
  const names = new Map<string, string>();
  for (const n of nodes) {
    for (const m of nodes) m.cachedFilename = undefined;
    names.set(n.nodeName, nodeFilename(n));
  }
  nodes.forEach((n, i) => (n.cachedFilename = kept[i]));
  return names;
}

function cachedNames(graph: BlockGraph): Map<string, string> {
  return new Map([...graph.allNodes()].map((n) => [n.nodeName, nodeFilename(n)]));
}

describe('node filenames', () => {
  let dir: string;
  let graph: BlockGraph;
  const image = (i: number) => join(dir, `q${i}.qcow2`);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'filename-'));
    for (let i = 0; i < 4; i++) {
      const handle = await open(image(i), 'w+');
      await formatQcow2(new HostFileIo('q', handle, 0), { size: 1 << 20 });
      await handle.close();
    }
    graph = new BlockGraph(silentLogger());
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** q0 ← q1 ← q2 (each the backing of the next), q3 alone, all without backing files in their headers. */
  async function chain(): Promise<BlockNode[]> {
    const nodes: BlockNode[] = [];
    for (let i = 0; i < 4; i++) {
      const backing = i > 0 && i < 3 ? `q${i - 1}` : null;
      nodes.push(
        await blockdevAdd(
          graph,
          dict({ driver: 'qcow2', 'node-name': `q${i}`, 'read-only': true, backing, file: dict({ driver: 'file', filename: image(i) }) }),
        ),
      );
    }
    await blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'z', size: 1 << 20 }));
    return nodes;
  }

  it('spells out a backing child added or removed below a node, up to the top of the chain', async () => {
    const [q0, , q2] = await chain();
    expect(nodeFilename(q0!)).toBe(image(0));
    expect(nodeFilename(q2!)).toMatch(/^json:/);
    const top = nodeFilename(q2!);

    const change = new GraphChange();
    change.attach(q0!, 'backing', graph.findNode('z')!);
    expect(nodeFilename(q0!)).toBe(`json:{"backing": {"driver": "null-co", "size": 1048576}, "driver": "qcow2", "file": {"driver": "file", "filename": "${image(0)}"}}`);
    expect(nodeFilename(q2!)).not.toBe(top);
    expect(cachedNames(graph)).toEqual(freshNames(graph));

    change.abort();
    expect(nodeFilename(q0!)).toBe(image(0));
    expect(nodeFilename(q2!)).toBe(top);
  });

  it('follows the backing names a node records (change-backing-file)', async () => {
    const [q0] = await chain();
    expect(nodeFilename(q0!)).toBe(image(0));
    q0!.backingFile = 'elsewhere.qcow2';
    expect(nodeFilename(q0!)).toMatch(/^json:.*"backing": null/);
    q0!.backingFile = '';
    expect(nodeFilename(q0!)).toBe(image(0));
  });

  it('matches names worked out afresh after any sequence of edge changes and undos', async () => {
    const nodes = await chain();
    const z = graph.findNode('z')!;
    const op = fc.record({
      kind: fc.constantFrom('attach', 'detach', 'retarget', 'abort', 'commit'),
      node: fc.integer({ min: 0, max: nodes.length - 1 }),
      to: fc.integer({ min: 0, max: nodes.length }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        let change = new GraphChange();
        for (const { kind, node, to } of ops) {
          const n = nodes[node]!;
          const target = to === nodes.length ? z : nodes[to]!;
          const below = (x: BlockNode): boolean => x === n || [...x.children.values()].some((e) => below(e.child));
          if (kind === 'attach' && !n.backing && !below(target)) change.attach(n, 'backing', target);
          else if (kind === 'detach' && n.backing) change.detach(n.backing);
          else if (kind === 'retarget' && n.backing && !below(target)) change.retarget(n.backing, target);
          else if (kind === 'abort') (change.abort(), (change = new GraphChange()));
          else if (kind === 'commit') (change.commit(), (change = new GraphChange()));
          expect(cachedNames(graph)).toEqual(freshNames(graph));
        }
        change.abort();
        expect(cachedNames(graph)).toEqual(freshNames(graph));
      }),
      { numRuns: 200 },
    );
  });
});
