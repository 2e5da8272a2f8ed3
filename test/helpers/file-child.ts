/**
 * Test-only ChildIo implementations for driving the qcow2 driver without the
 * graph: over a real file, over memory, and over another opened driver
 * instance (to stack a backing chain).
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { BlockStatusExtent, ChildIo, DriverInstance } from '../../src/block/drivers/driver.js';

/** A file as a `file` child: reads past the end give zeroes, writes grow it. */
export class FileChild implements ChildIo {
  private size: number;
  flushes = 0;

  private constructor(
    readonly nodeName: string,
    private readonly handle: FileHandle,
    size: number,
  ) {
    this.size = size;
  }

  static async open(path: string, readOnly = false): Promise<FileChild> {
    const handle = await open(path, readOnly ? 'r' : 'r+');
    const { size } = await handle.stat();
    return new FileChild(path, handle, size);
  }

  length(): number {
    return this.size;
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done < buf.length) buf.fill(0, done);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    this.size = Math.max(this.size, offset + data.length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.write(offset, Buffer.alloc(length));
  }

  async discard(): Promise<void> {}

  async flush(): Promise<void> {
    this.flushes++;
    await this.handle.datasync();
  }

  async truncate(length: number): Promise<void> {
    await this.handle.truncate(length);
    this.size = length;
  }

  async blockStatus(_offset: number, length: number): Promise<BlockStatusExtent> {
    return { length, status: 'data' };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * A growable in-memory file; copies on write so callers may reuse their
 * buffers. With `jitter`, every request first waits a pseudo-random number
 * of event-loop turns, so that concurrent requests complete out of order.
 */
export class MemChild implements ChildIo {
  data: Buffer;
  size: number;
  jitter: (() => number) | null = null;

  constructor(
    readonly nodeName = 'mem',
    initial?: Buffer,
  ) {
    this.data = Buffer.from(initial ?? Buffer.alloc(0));
    this.size = this.data.length;
  }

  private async pause(): Promise<void> {
    const turns = this.jitter === null ? 0 : this.jitter();
    for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
    await Promise.resolve();
  }

  length(): number {
    return this.size;
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    await this.pause();
    buf.fill(0);
    if (offset < this.size) this.data.copy(buf, 0, offset, Math.min(this.size, offset + buf.length));
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await this.pause();
    const end = offset + data.length;
    if (end > this.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.data.length * 2));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    data.copy(this.data, offset);
    this.size = Math.max(this.size, end);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.write(offset, Buffer.alloc(length));
  }

  async discard(): Promise<void> {}

  async flush(): Promise<void> {
    await this.pause();
  }

  async truncate(length: number): Promise<void> {
    await this.pause();
    if (length > this.data.length) {
      const grown = Buffer.alloc(length);
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    } else {
      this.data.fill(0, length);
    }
    this.size = length;
  }

  async blockStatus(_offset: number, length: number): Promise<BlockStatusExtent> {
    return { length, status: 'data' };
  }

  /** The file's bytes. */
  contents(): Buffer {
    return this.data.subarray(0, this.size);
  }
}

/** An opened driver instance as a child (backing chains): its virtual disk is the child's content. */
export class InstanceChild implements ChildIo {
  constructor(
    readonly nodeName: string,
    readonly instance: DriverInstance,
  ) {}

  length(): number {
    return this.instance.length();
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    const len = this.instance.length();
    const n = Math.max(0, Math.min(buf.length, len - offset));
    if (n > 0) await this.instance.read(offset, buf.subarray(0, n));
    if (n < buf.length) buf.fill(0, n);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await this.instance.write!(offset, data, {});
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.instance.writeZeroes!(offset, length, {});
  }

  async discard(offset: number, length: number): Promise<void> {
    await this.instance.discard?.(offset, length);
  }

  async flush(): Promise<void> {
    await this.instance.flush?.();
  }

  async truncate(length: number): Promise<void> {
    await this.instance.truncate!(length);
  }

  async blockStatus(offset: number, length: number): Promise<BlockStatusExtent> {
    return this.instance.blockStatus?.(offset, length) ?? { length, status: 'data' };
  }
}
