/**
 * Internal snapshot commands. blockdev-snapshot-internal-sync is a
 * transaction of one action, as in QEMU; blockdev-snapshot-delete-internal-sync
 * checks in QEMU 7.2's order (root node, id or name, a snapshot list, the
 * snapshot) and deletes with the node drained, holding the graph mutex.
 */
import { drainedBegin } from '../../block/drain.js';
import type { BlockGraph } from '../../block/graph.js';
import {
  findInternalSnapshot, internalSnapshotErrors as X, rootNode, snapshotInfo, snapshotStore,
} from '../../block/snapshot/internal.js';
import { runTransaction } from '../../block/transaction/runner.js';
import '../../block/transaction/actions/index.js';
import type { QDict } from '../json/value.js';
import type { CommandRegistry } from '../registry.js';

export function registerInternalSnapshotCommands(registry: CommandRegistry, graph: BlockGraph): void {
  registry.register('blockdev-snapshot-internal-sync', (args, ctx) =>
    runTransaction(
      graph,
      ctx.log,
      [{ type: 'blockdev-snapshot-internal-sync', data: args as unknown as QDict }],
      'individual',
    ),
  );

  registry.register('blockdev-snapshot-delete-internal-sync', (args) =>
    graph.mutex.run(async () => {
      const node = rootNode(graph, args.device);
      if (args.id === undefined && args.name === undefined) throw X.nameOrId();
      const store = snapshotStore(node);
      if (!store) throw X.noList();
      const found = findInternalSnapshot(store.instance.listSnapshots!(), args.id, args.name);
      if (!found) throw X.notFound(args.id, args.name, args.device);
      const drain = await drainedBegin([node]);
      try {
        await store.instance.deleteSnapshot!(args.id, args.name);
      } finally {
        drain.end();
      }
      return snapshotInfo(found);
    }),
  );
}
