/** `raw`: the bytes of the `file` child, optionally a window (`offset`, `size`) of it. */
import { QmpError } from '../../qmp/error.js';
import type { QDict } from '../../qmp/json/value.js';
import type { BlockDriver, ChildIo, DriverImageInfo, DriverInstance, DriverOpenContext } from './driver.js';
import { registerDriver } from './registry.js';
import { checkSizeOptions, optU64 } from './runtime-opts.js';

/** Most bytes a raw node can address, offset included (QEMU's int64). */
const INT64_MAX = 2n ** 63n - 1n;

class RawInstance implements DriverInstance {
  constructor(
    private readonly file: ChildIo,
    private offset: number,
    private fixedSize: number | undefined,
  ) {}

  length(): number {
    return this.fixedSize ?? Math.max(0, this.file.length() - this.offset);
  }

  read(offset: number, buf: Buffer): Promise<void> {
    return this.file.read(this.offset + offset, buf);
  }

  write(offset: number, data: Buffer, flags: { fua?: boolean }): Promise<void> {
    return this.file.write(this.offset + offset, data, flags);
  }

  writeZeroes(offset: number, length: number, flags: { fua?: boolean; mayUnmap?: boolean }): Promise<void> {
    return this.file.writeZeroes(this.offset + offset, length, flags);
  }

  discard(offset: number, length: number): Promise<void> {
    return this.file.discard(this.offset + offset, length);
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  /** raw_co_truncate(): a window of fixed size cannot grow; one with only an offset moves its end. */
  async truncate(length: number): Promise<void> {
    if (this.fixedSize !== undefined) throw QmpError.generic('Cannot resize fixed-size raw disks');
    if (INT64_MAX - BigInt(length) < BigInt(this.offset)) throw QmpError.generic('Disk size too large for the chosen offset');
    await this.file.truncate(this.offset + length);
  }

  async blockStatus(offset: number, length: number) {
    const s = await this.file.blockStatus(this.offset + offset, length);
    // a raw node owns every byte of its window: nothing falls through to a backing node
    return { length: s.length, status: s.status === 'zero' ? ('zero' as const) : ('data' as const) };
  }

  /** raw_reopen_prepare checks the new window as the open does; the commit moves the node to it. */
  prepareReopen(options: QDict): () => void {
    const w = rawWindow(options, this.file);
    return () => {
      this.offset = w.offset;
      this.fixedSize = w.size;
    };
  }

  /** raw_get_info() is its file's: a file that tells nothing (null-co) leaves the raw node silent too. */
  imageInfo(): DriverImageInfo | undefined {
    const below = this.file.imageInfo?.();
    if (below?.dirtyFlag === undefined) return undefined;
    return below.clusterSize ? { clusterSize: below.clusterSize, dirtyFlag: below.dirtyFlag } : { dirtyFlag: below.dirtyFlag };
  }

  async close(): Promise<void> {}
}

export const rawDriver: BlockDriver = {
  name: 'raw',
  protocol: false,
  supportsBacking: false,
  reopenOptions: ['offset', 'size'],
  mutableOptions: ['offset', 'size'],
  async open(ctx: DriverOpenContext): Promise<DriverInstance> {
    const file = ctx.file!;
    const w = rawWindow(ctx.options, file);
    return new RawInstance(file, w.offset, w.size);
  },
};

/**
 * raw_read_options and raw_apply_options, in their order and with their texts (the file
 * child is open already: bdrv_open_inherit opens it first).
 */
function rawWindow(options: QDict, file: ChildIo): { offset: number; size: number | undefined } {
  checkSizeOptions(options, ['offset', 'size']);
  const offset = optU64(options, 'offset', 0n);
  const hasSize = options.size !== undefined;
  const size = optU64(options, 'size', 0n);
  const real = BigInt(file.length());
  if (offset > real) {
    throw QmpError.generic(`Offset (${offset}) cannot be greater than size of the containing file (${real})`);
  }
  if (hasSize && real - offset < size) {
    throw QmpError.generic(
      `The sum of offset (${offset}) and size (${size}) has to be smaller or equal to the ` +
        ` actual size of the containing file (${real})`,
    );
  }
  // a window that is not whole sectors would round up past its end
  if (hasSize && size % 512n !== 0n) throw QmpError.generic('Specified size is not multiple of 512');
  return { offset: Number(offset), size: hasSize ? Number(size) : undefined };
}

registerDriver(rawDriver);
