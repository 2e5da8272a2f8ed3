/**
 * transaction, the snapshot commands (one-action transactions, as in QEMU)
 * and the dirty bitmap commands (direct operations with the same checks).
 */
import {
  addBitmap,
  CHECK_ALLOW_RO,
  CHECK_DEFAULT,
  checkBitmap,
  lookupBitmap,
  mergeBitmaps,
  releaseBitmap,
  removeBitmapChecked,
  type BitmapAddArgs,
  type BitmapRef,
} from '../../block/bitmap-ops.js';
import type { BlockGraph } from '../../block/graph.js';
import type { CompletionMode } from '../../block/transaction/action.js';
import { runTransaction, type TransactionObserver, type TransactionRequest } from '../../block/transaction/runner.js';
import '../../block/transaction/actions/index.js';
import type { QDict } from '../json/value.js';
import type { CommandRegistry } from '../registry.js';

export function registerTransactionCommands(
  registry: CommandRegistry,
  graph: BlockGraph,
  observer?: TransactionObserver,
): void {
  const run = (requests: TransactionRequest[], mode: CompletionMode, log: import('pino').Logger) =>
    runTransaction(graph, log, requests, mode, observer);

  registry.register('transaction', (args, ctx) => {
    const actions = (args.actions as { type: string; data: QDict }[]).map((a) => ({ type: a.type, data: a.data }));
    const mode = ((args.properties as { 'completion-mode'?: CompletionMode } | undefined)?.['completion-mode'] ??
      'individual') as CompletionMode;
    return run(actions, mode, ctx.log);
  });
  registry.register('blockdev-snapshot-sync', (args, ctx) =>
    run([{ type: 'blockdev-snapshot-sync', data: args as unknown as QDict }], 'individual', ctx.log),
  );
  registry.register('blockdev-snapshot', (args, ctx) =>
    run([{ type: 'blockdev-snapshot', data: args as unknown as QDict }], 'individual', ctx.log),
  );

  const serialized = <T>(fn: () => T | Promise<T>) => graph.mutex.run<T>(fn);
  registry.register('block-dirty-bitmap-add', (args) =>
    serialized(() => {
      addBitmap(graph, args as unknown as BitmapAddArgs);
    }),
  );
  registry.register('block-dirty-bitmap-remove', (args) =>
    serialized(async () => {
      const { node, bitmap } = await removeBitmapChecked(graph, args.node, args.name);
      releaseBitmap(node, bitmap);
    }),
  );
  registry.register('block-dirty-bitmap-clear', (args) =>
    serialized(() => {
      const { bitmap } = lookupBitmap(graph, args.node, args.name);
      checkBitmap(bitmap, CHECK_DEFAULT);
      bitmap.clear();
    }),
  );
  for (const [name, recording] of [
    ['block-dirty-bitmap-enable', true],
    ['block-dirty-bitmap-disable', false],
  ] as const) {
    registry.register(name, (args) =>
      serialized(() => {
        const { bitmap } = lookupBitmap(graph, args.node, args.name);
        checkBitmap(bitmap, CHECK_ALLOW_RO);
        bitmap.recording = recording;
      }),
    );
  }
  registry.register('block-dirty-bitmap-merge', (args) =>
    serialized(() => {
      mergeBitmaps(graph, args.node, args.target, args.bitmaps as BitmapRef[]);
    }),
  );
  registry.register('x-debug-block-dirty-bitmap-sha256', (args) => {
    const { bitmap } = lookupBitmap(graph, args.node, args.name);
    return { sha256: bitmap.sha256() };
  });
}
