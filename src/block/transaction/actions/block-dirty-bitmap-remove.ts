/**
 * `block-dirty-bitmap-remove`: prepare takes a persistent bitmap out of the
 * image and marks it busy (a second remove then fails) and not to be stored;
 * commit drops it, abort keeps it (stored again at close), as QEMU does.
 */
import { releaseBitmap, removeBitmapChecked } from '../../bitmap-ops.js';
import { registerBitmapAction } from './bitmap-action.js';

registerBitmapAction('block-dirty-bitmap-remove', async (graph, data) => {
  const { node, bitmap } = await removeBitmapChecked(graph, data.node as string, data.name as string);
  bitmap.busy = true;
  bitmap.skipStore = true;
  return {
    undo: () => {
      bitmap.busy = false;
      bitmap.skipStore = false;
    },
    finish: () => {
      bitmap.busy = false;
      releaseBitmap(node, bitmap);
    },
  };
});
