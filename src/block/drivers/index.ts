/** Loads every driver module so that each is in the driver table. */
import './file.js';
import './raw.js';
import './null.js';
import { qcow2 } from './qcow2/driver.js';
import { registerDriver } from './registry.js';

registerDriver(qcow2);
