/**
 * The options each node takes in a blockdev-reopen: QEMU's precedence of
 * given, kept explicit, inherited and kept effective options, on real nodes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockdevAdd } from '../../../src/block/blockdev.js';
import '../../../src/block/drivers/index.js';
import { BlockGraph } from '../../../src/block/graph.js';
import { flattenOptions, nestOptions, queueReopen, type ReopenEntry } from '../../../src/block/reopen-queue.js';
import { silentLogger } from '../../../src/log.js';
import type { QValue } from '../../../src/qmp/json/value.js';
import { dict } from '../../helpers/qdict.js';


const flat = (o: Record<string, unknown>) => flattenOptions(dict(o));
const plain = (e: ReopenEntry) => Object.fromEntries(e.options);

describe('the reopen queue', () => {
  let dir: string;
  let graph: BlockGraph;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reopen-'));
    writeFileSync(join(dir, 'r.img'), Buffer.alloc(1 << 20));
    graph = new BlockGraph(silentLogger());
    await blockdevAdd(graph, dict({ driver: 'raw', 'node-name': 'r', file: dict({ driver: 'file', 'node-name': 'rf', filename: join(dir, 'r.img') }) }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('queues a child named by reference after its parent, with its old options and what it inherits', () => {
    const queue: ReopenEntry[] = [];
    queueReopen(queue, graph.findNode('r')!, flat({ driver: 'raw', 'node-name': 'r', file: 'rf', 'read-only': true, cache: { direct: true } }));
    expect(queue.map((e) => e.node.nodeName)).toEqual(['r', 'rf']);
    expect(plain(queue[1]!)).toEqual({
      driver: 'file',
      'node-name': 'rf',
      filename: join(dir, 'r.img'),
      'cache.direct': true,
      'read-only': true,
      discard: 'unmap',
      'cache.no-flush': false,
      'auto-read-only': false,
    });
    // only what was given or kept explicitly is explicit
    expect(Object.fromEntries(queue[1]!.explicit)).toEqual({ driver: 'file', 'node-name': 'rf', filename: join(dir, 'r.img') });
  });

  it('gives a child its inline options afresh, and leaves out a child named as another node', async () => {
    let queue: ReopenEntry[] = [];
    queueReopen(queue, graph.findNode('r')!, flat({ driver: 'raw', 'node-name': 'r', file: { driver: 'file', filename: 'x', 'detect-zeroes': 'on' } }));
    expect(plain(queue[1]!)).toEqual({ driver: 'file', filename: 'x', 'detect-zeroes': 'on', discard: 'unmap' });
    expect([...queue[0]!.options.keys()]).toEqual(['driver', 'node-name']);

    await blockdevAdd(graph, dict({ driver: 'null-co', 'node-name': 'n' }));
    queue = [];
    queueReopen(queue, graph.findNode('r')!, flat({ driver: 'raw', 'node-name': 'r', file: 'n' }));
    expect(queue.map((e) => e.node.nodeName)).toEqual(['r']);
  });

  it('flattens options as qdict_flatten does and nests them back', () => {
    const key = fc.constantFrom('a', 'b', 'c-d', 'cache');
    const leaf = fc.oneof(fc.boolean(), fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null));
    const tree: fc.Arbitrary<QValue> = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(key, tie('node'), { minKeys: 1, maxKeys: 3 }).map(dict)),
    })).node as fc.Arbitrary<QValue>;
    fc.assert(
      fc.property(fc.dictionary(key, tree, { maxKeys: 4 }).map(dict), (d) => {
        const f = flattenOptions(d);
        for (const k of f.keys()) expect(typeof f.get(k) === 'object' && f.get(k) !== null).toBe(false);
        expect(nestOptions(f)).toEqual(d);
      }),
    );
    expect([...flattenOptions(dict({ cache: dict({}) })).keys()]).toEqual(['cache']);
  });
});
