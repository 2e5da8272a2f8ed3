/** NBD server and block export commands (nbd-server-*, block-export-*, query-block-exports). */
import { fromLegacyAddress } from '../../block/exports/address.js';
import type { ExportManager, ExportOptions } from '../../block/exports/manager.js';
import type { BlockGraph } from '../../block/graph.js';
import type { CommandRegistry } from '../registry.js';

export function registerExportCommands(registry: CommandRegistry, graph: BlockGraph, exports: ExportManager): void {
  registry.register('nbd-server-start', (args) =>
    exports.startNbd(() => fromLegacyAddress(args.addr), args['max-connections'], args['tls-creds']),
  );
  registry.register('nbd-server-stop', () => exports.stopNbd());
  registry.register('block-export-add', async (args) => {
    await exports.add(args as unknown as ExportOptions);
  });
  registry.register('block-export-del', (args) => exports.remove(exports.find(args.id), args.mode ?? 'safe'));
  registry.register('query-block-exports', () =>
    exports.list().map((e) => ({ id: e.id, type: e.type, 'node-name': e.nodeName, 'shutting-down': e.shuttingDown })),
  );
  registry.register('nbd-server-add', async (args) => {
    // the legacy command also takes a drive name, and names the export after the device
    const node = graph.lookup(args.device, args.device);
    const name = args.name ?? args.device;
    await exports.add({
      type: 'nbd',
      id: name,
      'node-name': node.nodeName,
      name,
      description: args.description,
      // unlike block-export-add, the legacy command quietly exports a read-only node read-only
      writable: node.readOnly ? false : args.writable,
      bitmaps: args.bitmap !== undefined ? [args.bitmap] : undefined,
    });
  });
  // QEMU's nbd-server-remove takes an export id (nbd-server-add makes id and NBD name equal)
  registry.register('nbd-server-remove', (args) => exports.remove(exports.find(args.name), args.mode ?? 'safe'));
}
