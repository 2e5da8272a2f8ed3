/** A mixed workload for crash tests: writes, zero writes, discards, growth and flushes. */
import type { DriverInstance } from '../../src/block/drivers/driver.js';

export async function crashWorkload(inst: DriverInstance, cs: number): Promise<void> {
  let seed = 12345 + cs;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    return ((seed >>> 8) & 0xffffff) % n;
  };
  for (let round = 0; round < 30; round++) {
    const size = inst.length();
    const jobs: Promise<void>[] = [];
    for (let j = 0; j < 6; j++) {
      const len = 1 + rnd(64 * 1024);
      const off = rnd(size - len);
      const kind = rnd(6);
      if (kind < 3) jobs.push(inst.write!(off, Buffer.alloc(len, (round * 7 + j) & 0xff), {}));
      else if (kind === 3) jobs.push(inst.writeZeroes!(off, len, { mayUnmap: rnd(2) === 0 }));
      else if (kind === 4) jobs.push(inst.discard!(off, len));
      else jobs.push(inst.write!(off, Buffer.alloc(len, 0x5a), { fua: true }));
    }
    await Promise.allSettled(jobs);
    for (const r of await Promise.allSettled(jobs)) if (r.status === 'rejected') throw r.reason;
    if (round % 10 === 9) await inst.truncate!(size + 8 * 1024 * 1024);
    if (round % 3 === 0) await inst.flush!();
  }
}
