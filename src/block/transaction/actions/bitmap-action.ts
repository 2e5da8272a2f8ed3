/**
 * The shape every dirty bitmap action shares: refuse completion-mode grouped,
 * do the change in prepare, and keep what abort (or commit) needs. A bitmap
 * action file only says what its prepare does.
 */
import type { QDict } from '../../../qmp/json/value.js';
import type { BlockGraph } from '../../graph.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

export interface BitmapChange {
  /** Undo the change (abort). */
  undo(): void;
  /** Make it final (commit); most changes are final already. */
  finish?(): void;
}

export function registerBitmapAction(name: string, apply: (graph: BlockGraph, data: QDict) => BitmapChange | Promise<BitmapChange>): void {
  registerAction({
    name,
    create(data: QDict, ctx: ActionContext) {
      let change: BitmapChange | undefined;
      return {
        async prepare() {
          refuseGrouped(name, ctx.completionMode);
          change = await apply(ctx.graph, data);
        },
        commit: () => change?.finish?.(),
        abort: () => change?.undo(),
        clean: () => {},
      };
    },
  });
}
