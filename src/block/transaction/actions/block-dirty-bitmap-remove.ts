/** `block-dirty-bitmap-remove`: prepare only marks the bitmap busy (a second remove then fails); commit removes it. */
import type { QDict } from '../../../qmp/json/value.js';
import type { DirtyBitmap } from '../../bitmap.js';
import { CHECK_BUSY, CHECK_RO, checkBitmap, lookupBitmap, releaseBitmap } from '../../bitmap-ops.js';
import type { BlockNode } from '../../node.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'block-dirty-bitmap-remove';

registerAction({
  name: NAME,
  create(data: QDict, ctx: ActionContext) {
    let marked: { node: BlockNode; bitmap: DirtyBitmap } | undefined;
    return {
      async prepare() {
        refuseGrouped(NAME, ctx.completionMode);
        const found = lookupBitmap(ctx.graph, data.node as string, data.name as string);
        checkBitmap(found.node, found.bitmap, CHECK_BUSY | CHECK_RO);
        found.bitmap.busy = true;
        marked = found;
      },
      commit: () => {
        if (!marked) return;
        marked.bitmap.busy = false;
        releaseBitmap(marked.node, marked.bitmap);
      },
      abort: () => {
        if (marked) marked.bitmap.busy = false;
      },
      clean: () => {},
    };
  },
});
