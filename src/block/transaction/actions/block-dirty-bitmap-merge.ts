/** `block-dirty-bitmap-merge`: sources OR-ed into the target in prepare, the old bits restored on abort. */
import type { QDict } from '../../../qmp/json/value.js';
import type { DirtyBitmap } from '../../bitmap.js';
import { mergeBitmaps, type BitmapRef } from '../../bitmap-ops.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'block-dirty-bitmap-merge';

registerAction({
  name: NAME,
  create(data: QDict, ctx: ActionContext) {
    let backup: { bitmap: DirtyBitmap; bits: Uint8Array } | undefined;
    return {
      async prepare() {
        refuseGrouped(NAME, ctx.completionMode);
        backup = mergeBitmaps(ctx.graph, data.node as string, data.target as string, data.bitmaps as BitmapRef[]);
      },
      commit: () => {},
      abort: () => {
        if (backup) backup.bitmap.restoreBits(backup.bits);
      },
      clean: () => {},
    };
  },
});
