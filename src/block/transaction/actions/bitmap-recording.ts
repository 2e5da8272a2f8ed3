/** What `block-dirty-bitmap-enable` and `-disable` share: recording switched in prepare, restored on abort. */
import { CHECK_ALLOW_RO, checkBitmap, lookupBitmap } from '../../bitmap-ops.js';
import { registerBitmapAction } from './bitmap-action.js';

export function registerRecordingAction(name: string, recording: boolean): void {
  registerBitmapAction(name, (graph, data) => {
    const { bitmap } = lookupBitmap(graph, data.node as string, data.name as string);
    checkBitmap(bitmap, CHECK_ALLOW_RO);
    const before = bitmap.recording;
    bitmap.recording = recording;
    return { undo: () => (bitmap.recording = before) };
  });
}
