/** `block-dirty-bitmap-add`: the bitmap exists from prepare on (later actions may use it); abort removes it. */
import { addBitmap, releaseBitmap, type BitmapAddArgs } from '../../bitmap-ops.js';
import { registerBitmapAction } from './bitmap-action.js';

registerBitmapAction('block-dirty-bitmap-add', (graph, data) => {
  const { node, bitmap } = addBitmap(graph, data as unknown as BitmapAddArgs);
  return { undo: () => releaseBitmap(node, bitmap) };
});
