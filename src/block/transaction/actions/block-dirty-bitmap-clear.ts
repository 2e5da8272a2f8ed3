/** `block-dirty-bitmap-clear`: cleared in prepare, the old bits kept to restore on abort. */
import type { QDict } from '../../../qmp/json/value.js';
import type { DirtyBitmap } from '../../bitmap.js';
import { CHECK_DEFAULT, checkBitmap, lookupBitmap } from '../../bitmap-ops.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'block-dirty-bitmap-clear';

registerAction({
  name: NAME,
  create(data: QDict, ctx: ActionContext) {
    let backup: { bitmap: DirtyBitmap; bits: Uint8Array } | undefined;
    return {
      async prepare() {
        refuseGrouped(NAME, ctx.completionMode);
        const { node, bitmap } = lookupBitmap(ctx.graph, data.node as string, data.name as string);
        checkBitmap(node, bitmap, CHECK_DEFAULT);
        backup = { bitmap, bits: bitmap.snapshotBits() };
        bitmap.clear();
      },
      commit: () => {},
      abort: () => {
        if (backup) backup.bitmap.restoreBits(backup.bits);
      },
      clean: () => {},
    };
  },
});
