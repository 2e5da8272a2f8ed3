/** `block-dirty-bitmap-remove`: prepare only marks the bitmap busy (a second remove then fails); commit removes it. */
import { CHECK_BUSY, CHECK_RO, checkBitmap, lookupBitmap, releaseBitmap } from '../../bitmap-ops.js';
import { registerBitmapAction } from './bitmap-action.js';

registerBitmapAction('block-dirty-bitmap-remove', (graph, data) => {
  const { node, bitmap } = lookupBitmap(graph, data.node as string, data.name as string);
  checkBitmap(node, bitmap, CHECK_BUSY | CHECK_RO);
  bitmap.busy = true;
  return {
    undo: () => (bitmap.busy = false),
    finish: () => {
      bitmap.busy = false;
      releaseBitmap(node, bitmap);
    },
  };
});
