/** The block graph commands: blockdev-add/del and the block queries. */
import { blockdevAdd, blockdevDel } from '../../block/blockdev.js';
import type { BlockGraph } from '../../block/graph.js';
import { blockGraphInfo, namedBlockNodes, queryBlock } from '../../block/info.js';
import type { QDict } from '../json/value.js';
import type { CommandRegistry } from '../registry.js';

export function registerBlockCommands(registry: CommandRegistry, graph: BlockGraph): void {
  registry.register('blockdev-add', async (args) => {
    // validated QMP input: the parsed object itself
    await blockdevAdd(graph, args as unknown as QDict);
  });
  registry.register('blockdev-del', (args) => blockdevDel(graph, args['node-name']));
  registry.register('query-named-block-nodes', (args) => namedBlockNodes(graph, args.flat ?? false));
  registry.register('query-block', () => queryBlock(graph));
  registry.register('x-debug-query-block-graph', () => blockGraphInfo(graph));
}
