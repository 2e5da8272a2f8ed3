/**
 * `null-co`: a node of a given size that stores nothing; cheap enough for
 * graph-scale tests (10,000 nodes). Reads always give zeroes here, even with
 * read-zeroes=false, so no stale memory is ever handed out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlockDriver, DriverInstance, DriverOpenContext } from './driver.js';
import { registerDriver } from './registry.js';
import { QmpError } from '../../qmp/error.js';
import { checkSizeOptions } from './runtime-opts.js';

/** QEMU's default null-co size: 1 GiB. */
export const NULL_DEFAULT_SIZE = 1 << 30;

function nullInstance(size: number, latencyNs: number, readZeroes: boolean): DriverInstance {
  const delay = latencyNs > 0 ? () => sleep(latencyNs / 1e6) : undefined;
  return {
    length: () => size,
    async read(_offset, buf) {
      if (delay) await delay();
      buf.fill(0);
    },
    async write() {
      if (delay) await delay();
    },
    async writeZeroes() {},
    async discard() {},
    async flush() {},
    async blockStatus(_offset, length) {
      return { length, status: readZeroes ? 'zero' : 'data' };
    },
    allocatedSize: () => 0,
    async close() {},
  };
}

function driverFor(name: string): BlockDriver {
  return {
    name,
    protocol: true,
    supportsBacking: false,
    async open(ctx: DriverOpenContext) {
      const o = ctx.options;
      // QEMU aborts here (null_file_open reads the size with &error_abort); qmpd gives the error it would have printed
      checkSizeOptions(o, ['size']);
      // null_file_open keeps latency-ns as int64 and refuses it below zero
      if (Number(o['latency-ns'] ?? 0) < 0) throw QmpError.generic('latency-ns is invalid');
      return nullInstance(Number(o.size ?? NULL_DEFAULT_SIZE), Number(o['latency-ns'] ?? 0), o['read-zeroes'] === true);
    },
  };
}

registerDriver(driverFor('null-co'));
registerDriver(driverFor('null-aio'));
