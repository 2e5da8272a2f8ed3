/** `block-dirty-bitmap-merge`: sources OR-ed into the target in prepare, the old bits restored on abort. */
import { mergeBitmaps, type BitmapRef } from '../../bitmap-ops.js';
import { registerBitmapAction } from './bitmap-action.js';

registerBitmapAction('block-dirty-bitmap-merge', (graph, data) => {
  const { bitmap, bits } = mergeBitmaps(graph, data.node as string, data.target as string, data.bitmaps as BitmapRef[]);
  return { undo: () => bitmap.restoreBits(bits) };
});
