/**
 * A ChildIo over a plain file handle, outside the graph: used to lay out a new
 * image (qcow2 creation) before any node opens it.
 */
import type { FileHandle } from 'node:fs/promises';
import type { BlockStatusExtent, ChildIo } from './drivers/driver.js';
import { readFully, writeFully } from '../util/fd-io.js';

export class HostFileIo implements ChildIo {
  constructor(
    readonly nodeName: string,
    private readonly handle: FileHandle,
    private size: number,
  ) {}

  length(): number {
    return this.size;
  }

  read(offset: number, buf: Buffer): Promise<void> {
    return readFully(this.handle.fd, buf, offset);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await writeFully(this.handle.fd, data, offset);
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
