/** `block-dirty-bitmap-add`: the bitmap exists from prepare on (later actions may use it); abort removes it. */
import type { QDict } from '../../../qmp/json/value.js';
import type { DirtyBitmap } from '../../bitmap.js';
import { addBitmap, releaseBitmap, type BitmapAddArgs } from '../../bitmap-ops.js';
import type { BlockNode } from '../../node.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'block-dirty-bitmap-add';

registerAction({
  name: NAME,
  create(data: QDict, ctx: ActionContext) {
    let added: { node: BlockNode; bitmap: DirtyBitmap } | undefined;
    return {
      async prepare() {
        refuseGrouped(NAME, ctx.completionMode);
        added = addBitmap(ctx.graph, data as unknown as BitmapAddArgs);
      },
      commit: () => {},
      abort: () => {
        if (added) releaseBitmap(added.node, added.bitmap);
      },
      clean: () => {},
    };
  },
});
