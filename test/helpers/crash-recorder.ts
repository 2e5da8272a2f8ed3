/**
 * Crash simulation for the qcow2 tests: a ChildIo that records every write
 * and flush, and the file states a crash could leave behind. At a crash
 * between flush k and flush k+1, everything before flush k is on disk and
 * any subset of the writes issued after it may be (a disk reorders freely
 * between flushes).
 */
import type { BlockStatusExtent, ChildIo } from '../../src/block/drivers/driver.js';
import { MemChild } from './file-child.js';

type Event = { t: 'write'; off: number; data: Buffer } | { t: 'flush' } | { t: 'truncate'; len: number };

export class CrashRecorder implements ChildIo {
  readonly nodeName = 'crash-recorder';
  readonly events: Event[] = [];

  constructor(
    readonly inner: MemChild,
    readonly initial: Buffer = Buffer.from(inner.contents()),
  ) {}

  length(): number {
    return this.inner.length();
  }

  read(offset: number, buf: Buffer): Promise<void> {
    return this.inner.read(offset, buf);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.events.push({ t: 'write', off: offset, data: Buffer.from(data) });
    await this.inner.write(offset, data);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.write(offset, Buffer.alloc(length));
  }

  async discard(): Promise<void> {}

  async flush(): Promise<void> {
    await this.inner.flush();
    this.events.push({ t: 'flush' });
  }

  async truncate(length: number): Promise<void> {
    this.events.push({ t: 'truncate', len: length });
    await this.inner.truncate(length);
  }

  blockStatus(offset: number, length: number): Promise<BlockStatusExtent> {
    return this.inner.blockStatus(offset, length);
  }

  /** Number of flushes recorded. */
  get flushCount(): number {
    return this.events.filter((e) => e.t === 'flush').length;
  }

  /**
   * Every crash point with four choices of the unflushed writes each: none,
   * all, and two pseudo-random halves (deterministic for a given `seed`).
   */
  *everyCrash(seed: number): Generator<{ k: number; state: Buffer }> {
    let x = seed;
    const rnd = (): number => {
      x = (Math.imul(x, 1103515245) + 12345) | 0;
      return (x >>> 16) / 65536;
    };
    for (let k = 0; k <= this.flushCount; k++) {
      for (const keep of [() => false, () => true, () => rnd() < 0.5, () => rnd() < 0.5]) {
        yield { k, state: this.crashState(k, keep) };
      }
    }
  }

  /**
   * The file as a crash after flush `k` (0 = before the first flush) could
   * leave it, keeping those later writes (up to the next flush) for which
   * `keep(i)` is true.
   */
  crashState(k: number, keep: (i: number) => boolean): Buffer {
    const f = new MemChild('crash', this.initial);
    const apply = (e: Event): void => {
      if (e.t === 'write') {
        const end = e.off + e.data.length;
        if (end > f.data.length) {
          const grown = Buffer.alloc(Math.max(end, f.data.length * 2));
          f.data.copy(grown, 0, 0, f.size);
          f.data = grown;
        }
        e.data.copy(f.data, e.off);
        f.size = Math.max(f.size, end);
      } else if (e.t === 'truncate') {
        if (e.len > f.data.length) {
          const grown = Buffer.alloc(e.len);
          f.data.copy(grown, 0, 0, f.size);
          f.data = grown;
        } else f.data.fill(0, e.len);
        f.size = e.len;
      }
    };
    let flushes = 0;
    let i = 0;
    for (; i < this.events.length && flushes < k; i++) {
      const e = this.events[i]!;
      if (e.t === 'flush') flushes++;
      else apply(e);
    }
    for (let n = 0; i < this.events.length; i++, n++) {
      const e = this.events[i]!;
      if (e.t === 'flush') break;
      if (keep(n)) apply(e);
    }
    return Buffer.from(f.contents());
  }
}
