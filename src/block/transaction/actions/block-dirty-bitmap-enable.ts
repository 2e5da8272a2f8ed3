/** `block-dirty-bitmap-enable`: the bitmap records from prepare on; abort restores its old state. */
import { registerRecordingAction } from './bitmap-recording.js';

registerRecordingAction('block-dirty-bitmap-enable', true);
