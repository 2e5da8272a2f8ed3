/** `block-dirty-bitmap-clear`: cleared in prepare, the old bits kept to restore on abort. */
import { CHECK_DEFAULT, checkBitmap, lookupBitmap } from '../../bitmap-ops.js';
import { registerBitmapAction } from './bitmap-action.js';

registerBitmapAction('block-dirty-bitmap-clear', (graph, data) => {
  const { bitmap } = lookupBitmap(graph, data.node as string, data.name as string);
  checkBitmap(bitmap, CHECK_DEFAULT);
  const bits = bitmap.snapshotBits();
  bitmap.clear();
  return { undo: () => bitmap.restoreBits(bits) };
});
