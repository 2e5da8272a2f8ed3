/** block_resize, block-set-write-threshold, blockdev-reopen, change-backing-file, query-blockstats. */
import type { BlockGraph } from '../../block/graph.js';
import { blockdevReopen } from '../../block/blockdev-reopen.js';
import { blockResize, changeBackingFile, setWriteThreshold } from '../../block/maintenance.js';
import { queryBlockstats } from '../../block/stats.js';
import type { QDict } from '../json/value.js';
import type { CommandRegistry } from '../registry.js';

export function registerMaintenanceCommands(registry: CommandRegistry, graph: BlockGraph): void {
  registry.register('block_resize', (args) => blockResize(graph, args.device, args['node-name'], Number(args.size)));
  registry.register('block-set-write-threshold', (args) => setWriteThreshold(graph, args['node-name'], args['write-threshold']));
  registry.register('blockdev-reopen', (args) => blockdevReopen(graph, args.options as unknown as QDict[]));
  registry.register('change-backing-file', (args) =>
    changeBackingFile(graph, args.device, args['image-node-name'], args['backing-file']),
  );
  registry.register('query-blockstats', (args) => queryBlockstats(graph, args['query-nodes'] ?? false));
}
