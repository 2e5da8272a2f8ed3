/** Loads every action module so that each registers itself. */
import './abort.js';
import './blockdev-snapshot-sync.js';
import './blockdev-snapshot.js';
import './blockdev-snapshot-internal-sync.js';
import './block-dirty-bitmap-add.js';
import './block-dirty-bitmap-remove.js';
import './block-dirty-bitmap-clear.js';
import './block-dirty-bitmap-enable.js';
import './block-dirty-bitmap-disable.js';
import './block-dirty-bitmap-merge.js';
import './backup.js';
