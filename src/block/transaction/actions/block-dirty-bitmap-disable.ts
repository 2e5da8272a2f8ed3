/** `block-dirty-bitmap-disable`: recording turned off in prepare, restored on abort. */
import type { QDict } from '../../../qmp/json/value.js';
import type { DirtyBitmap } from '../../bitmap.js';
import { CHECK_ALLOW_RO, checkBitmap, lookupBitmap } from '../../bitmap-ops.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'block-dirty-bitmap-disable';

registerAction({
  name: NAME,
  create(data: QDict, ctx: ActionContext) {
    let before: { bitmap: DirtyBitmap; recording: boolean } | undefined;
    return {
      async prepare() {
        refuseGrouped(NAME, ctx.completionMode);
        const { node, bitmap } = lookupBitmap(ctx.graph, data.node as string, data.name as string);
        checkBitmap(node, bitmap, CHECK_ALLOW_RO);
        before = { bitmap, recording: bitmap.recording };
        bitmap.recording = false;
      },
      commit: () => {},
      abort: () => {
        if (before) before.bitmap.recording = before.recording;
      },
      clean: () => {},
    };
  },
});
