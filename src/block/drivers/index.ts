/** Loads every driver module so that each registers itself in the driver table. */
import './file.js';
import './raw.js';
import './null.js';
