/** `block-dirty-bitmap-disable`: the bitmap stops recording in prepare; abort restores its old state. */
import { registerRecordingAction } from './bitmap-recording.js';

registerRecordingAction('block-dirty-bitmap-disable', false);
