/** The driver table: drivers register themselves by name, the graph looks them up. */
import type { BlockDriver } from './driver.js';

const drivers = new Map<string, BlockDriver>();

export function registerDriver(driver: BlockDriver): void {
  if (drivers.has(driver.name)) throw new Error(`block driver ${driver.name} registered twice`);
  drivers.set(driver.name, driver);
}

export function findDriver(name: string): BlockDriver | undefined {
  return drivers.get(name);
}

export function driverNames(): string[] {
  return [...drivers.keys()];
}
