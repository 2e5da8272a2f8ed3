/**
 * A ChildIo over a plain file handle, outside the graph: used to lay out a new
 * image (qcow2 creation) before any node opens it.
 */
import type { FileHandle } from 'node:fs/promises';
import type { BlockStatusExtent, ChildIo } from './drivers/driver.js';

export class HostFileIo implements ChildIo {
  constructor(
    readonly nodeName: string,
    private readonly handle: FileHandle,
    private size: number,
  ) {}

  length(): number {
    return this.size;
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) {
        buf.fill(0, done);
        return;
      }
      done += bytesRead;
    }
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
    await this.handle.datasync();
  }

  async truncate(length: number): Promise<void> {
    await this.handle.truncate(length);
    this.size = length;
  }

  async blockStatus(_offset: number, length: number): Promise<BlockStatusExtent> {
    return { length, status: 'data' };
  }
}
