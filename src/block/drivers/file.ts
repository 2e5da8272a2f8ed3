/**
 * `file`: a POSIX file through Node's fs promises API. Reads past the end
 * give zeroes, writes past the end grow the file (qcow2 appends clusters).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { QmpError } from '../../qmp/error.js';
import { describeErrno } from '../../util/errno.js';
import { readFully, writeFully } from '../../util/fd-io.js';
import type { BlockDriver, DriverInstance, DriverOpenContext, ZeroFlags } from './driver.js';
import { registerDriver } from './registry.js';

/** Zero writes are issued in chunks of this size. */
const ZERO_CHUNK = 1024 * 1024;
const zeroChunk = Buffer.alloc(ZERO_CHUNK);

class FileInstance implements DriverInstance {
  private handleChanges: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private hostPath: string,
    private handle: FileHandle,
    private size: number,
    private readonly identity: string,
    /** The file's first bytes, known from creating it; dropped at the first write or when taken. */
    private head?: Buffer,
  ) {}

  length(): number {
    return this.size;
  }

  filename(): string {
    return this.path;
  }

  fileIdentity(): string {
    return this.identity;
  }

  hostPathChanged(path: string): void {
    this.hostPath = path;
  }

  takeKnownHead(): Buffer | undefined {
    const head = this.head;
    this.head = undefined;
    return head;
  }

  read(offset: number, buf: Buffer): Promise<void> {
    const head = this.head;
    // the head answers reads inside it, and past it when it holds the whole file
    if (head && (offset + buf.length <= head.length || head.length >= this.size)) {
      const n = head.copy(buf, 0, Math.min(offset, head.length), Math.min(offset + buf.length, head.length));
      if (n < buf.length) buf.fill(0, n);
      return Promise.resolve();
    }
    return readFully(this.handle.fd, buf, offset);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.head = undefined;
    await writeFully(this.handle.fd, data, offset);
    if (offset + data.length > this.size) this.size = offset + data.length;
  }

  async writeZeroes(offset: number, length: number, _flags: ZeroFlags): Promise<void> {
    // Always written out: growing the file with truncate could cut off a concurrent
    // write beyond the old end.
    const end = offset + length;
    for (let pos = offset; pos < end; pos += ZERO_CHUNK) {
      await this.write(pos, zeroChunk.subarray(0, Math.min(ZERO_CHUNK, end - pos)));
    }
  }

  async discard(): Promise<void> {
    // Advisory; leaving the data in place is always correct.
  }

  async flush(): Promise<void> {
    await this.handle.datasync();
  }

  async truncate(length: number): Promise<void> {
    this.head = undefined;
    await this.handle.truncate(length);
    this.size = length;
  }

  async allocatedSize(): Promise<number> {
    const st = await this.handle.stat();
    return st.blocks * 512;
  }

  imageInfo() {
    return { dirtyFlag: false };
  }

  reopen(readOnly: boolean): Promise<void> {
    return this.serially(async () => {
      const handle = await openHandle(this.hostPath, readOnly, this.path);
      const old = this.handle;
      this.handle = handle;
      await old.close();
    });
  }

  close(): Promise<void> {
    return this.serially(() => this.handle.close());
  }

  /** Reopens and the close run one after another: a reopen may still be running in the background. */
  private serially(fn: () => Promise<void>): Promise<void> {
    const done = this.handleChanges.then(fn);
    this.handleChanges = done.catch(() => undefined);
    return done;
  }
}

async function openHandle(hostPath: string, readOnly: boolean, shownPath: string): Promise<FileHandle> {
  try {
    return await open(hostPath, readOnly ? 'r' : 'r+');
  } catch (err) {
    throw QmpError.generic(`Could not open '${shownPath}': ${describeErrno(err)}`, { cause: err });
  }
}

export const fileDriver: BlockDriver = {
  name: 'file',
  protocol: true,
  supportsBacking: false,
  // raw_reopen_prepare (file-posix) takes the cache-dropping switches and gives the rest back as text
  reopenOptions: ['drop-cache', 'x-check-cache-dropped'],
  reopenOptionsAsText: ['filename', 'pr-manager', 'locking', 'aio', 'aio-max-batch'],
  mutableOptions: ['x-check-cache-dropped'],
  async open(ctx: DriverOpenContext): Promise<DriverInstance> {
    const path = ctx.options.filename as string;
    // bdrv_open_common, before the driver sees its options
    if (path === '') throw QmpError.generic("The 'file' block driver requires a file name");
    // no --object pr-manager-helper exists in qmpd, so every id is unknown, as QEMU says
    const pr = ctx.options['pr-manager'];
    if (typeof pr === 'string') throw QmpError.generic(`No persistent reservation manager with id '${pr}'`);
    // raw_open_common refuses Linux AIO without O_DIRECT only once the file is open
    const aioWithoutDirect = ctx.options.aio === 'native' && ctx.cacheDirect !== true;
    const hostPath = ctx.hostPath ?? path;
    const opened = ctx.openedFile;
    if (opened && !ctx.readOnly) {
      return new FileInstance(path, hostPath, opened.handle, opened.size, opened.identity, opened.head);
    }
    const handle = await openHandle(hostPath, ctx.readOnly, path);
    try {
      if (aioWithoutDirect) {
        throw QmpError.generic('aio=native was specified, but it requires cache.direct=on, which was not specified.');
      }
      const st = await handle.stat();
      if (st.isDirectory()) throw QmpError.generic(`Could not open '${path}': Is a directory`);
      return new FileInstance(path, hostPath, handle, st.size, `${st.dev}:${st.ino}`);
    } catch (err) {
      await handle.close();
      throw err;
    }
  },
};

registerDriver(fileDriver);
