/**
 * Test-only NBD export backends: one over a raw file (fs/promises FileHandle)
 * and one in memory that tracks allocation per 64 KiB granule, so that block
 * status, sparse reads, allocation depth and a dirty bitmap have something
 * real to report. Both can hold requests (a drained node) and fail on demand.
 */
import { read as fsRead, write as fsWrite } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type {
  NbdAllocationExtent,
  NbdDepthExtent,
  NbdDirtyBitmapSource,
  NbdDirtyExtent,
  NbdExportBackend,
  NbdRequestKind,
  NbdZeroOptions,
} from '../../src/block/exports/nbd/backend.js';
import { errnoError } from '../../src/block/exports/nbd/errno.js';

export interface BackendOptions {
  name: string;
  description?: string;
  writable?: boolean;
  allocationDepth?: boolean;
  bitmaps?: string[];
}

/** Hold/fail/count machinery shared by the test backends. */
abstract class TestBackendBase {
  readonly name: string;
  readonly description?: string;
  readonly writable: boolean;
  readonly allocationDepthEnabled: boolean;
  readonly bitmaps: readonly string[];
  /** Requests admitted and not yet replied to. */
  inFlight = 0;
  maxInFlight = 0;
  readonly kinds: NbdRequestKind[] = [];
  /** Next calls of these operations throw an error with this errno code. */
  readonly failures = new Map<string, string>();
  private held: Promise<void> | null = null;
  private heldKinds: readonly NbdRequestKind[] | null = null;
  private readonly gates = new Map<string, Promise<void>>();

  constructor(o: BackendOptions) {
    this.name = o.name;
    if (o.description !== undefined) this.description = o.description;
    this.writable = o.writable ?? true;
    this.allocationDepthEnabled = o.allocationDepth ?? false;
    this.bitmaps = o.bitmaps ?? [];
  }

  /** New requests (of `kinds`, default all) wait for admission until the returned function is called: a drained node. */
  hold(kinds: readonly NbdRequestKind[] | null = null): () => void {
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    this.heldKinds = kinds;
    return () => {
      this.held = null;
      release();
    };
  }

  /** Calls of backend method `op` started from now on block inside the backend until the returned function is called. */
  gate(op: string): () => void {
    let release!: () => void;
    this.gates.set(op, new Promise((resolve) => (release = resolve)));
    return () => {
      this.gates.delete(op);
      release();
    };
  }

  /** Waits while `op` is gated; synchronous otherwise, so that calls run in arrival order. */
  protected gated(op: string): Promise<void> | undefined {
    return this.gates.get(op);
  }

  beginRequest(kind: NbdRequestKind): void | Promise<void> {
    this.kinds.push(kind);
    const admit = (): void => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    };
    if (!this.held || (this.heldKinds && !this.heldKinds.includes(kind))) return admit();
    return this.held.then(admit);
  }

  endRequest(): void {
    this.inFlight--;
  }

  protected check(op: string): void {
    const code = this.failures.get(op);
    if (code) {
      this.failures.delete(op);
      throw errnoError(code, `injected ${code} on ${op}`);
    }
  }
}

const GRANULE = 64 * 1024;
const enum G {
  Hole = 0,
  Data = 1,
  Zero = 2,
}

/** An in-memory export with per-granule allocation (hole / data / allocated zeroes) and dirty bitmaps. */
export class MemoryBackend extends TestBackendBase implements NbdExportBackend {
  readonly sparseReads = true;
  readonly data: Buffer;
  readonly state: Uint8Array;
  readonly dirty = new Map<string, Uint8Array>();
  flushes = 0;

  constructor(o: BackendOptions & { size: number }) {
    super(o);
    this.data = Buffer.alloc(o.size);
    this.state = new Uint8Array(Math.ceil(o.size / GRANULE));
    for (const b of this.bitmaps) this.dirty.set(b, new Uint8Array(this.state.length));
  }

  /** A smaller size than the buffer, as after a shrinking resize; null: the whole buffer. */
  limit: number | null = null;

  size(): number {
    return this.limit ?? this.data.length;
  }

  /** Granules wholly in the range become `whole`; partly covered ones become data when `partialData`. */
  private mark(offset: number, length: number, whole: G, partialData: boolean): void {
    const end = offset + length;
    for (let g = Math.floor(offset / GRANULE); g * GRANULE < end; g++) {
      const covered = g * GRANULE >= offset && Math.min((g + 1) * GRANULE, this.data.length) <= end;
      if (covered) this.state[g] = whole;
      else if (partialData) this.state[g] = G.Data;
      for (const bits of this.dirty.values()) bits[g] = 1;
    }
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    const gate = this.gated('read');
    if (gate) await gate;
    this.check('read');
    this.data.copy(buf, 0, offset, offset + buf.length);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    const gate = this.gated('write');
    if (gate) await gate;
    this.check('write');
    data.copy(this.data, offset);
    this.mark(offset, data.length, G.Data, true);
  }

  async writeZeroes(offset: number, length: number, opts: NbdZeroOptions): Promise<void> {
    this.check('writeZeroes');
    this.data.fill(0, offset, offset + length);
    this.mark(offset, length, opts.mayUnmap ? G.Hole : G.Zero, false);
  }

  async trim(offset: number, length: number): Promise<void> {
    this.check('trim');
    const first = Math.ceil(offset / GRANULE);
    const last = Math.floor((offset + length) / GRANULE);
    for (let g = first; g < last; g++) {
      this.data.fill(0, g * GRANULE, (g + 1) * GRANULE);
      this.state[g] = G.Hole;
    }
  }

  async flush(): Promise<void> {
    const gate = this.gated('flush');
    if (gate) await gate;
    this.check('flush');
    this.flushes++;
  }

  private runs<T>(offset: number, length: number, value: (g: number) => T, make: (len: number, v: T) => { length: number }): { length: number }[] {
    const out: { length: number }[] = [];
    const end = offset + length;
    let pos = offset;
    while (pos < end && out.length < 1000) {
      const g = Math.floor(pos / GRANULE);
      const v = value(g);
      let next = Math.min((g + 1) * GRANULE, end);
      while (next < end && value(Math.floor(next / GRANULE)) === v) next = Math.min(next + GRANULE, end);
      out.push(make(next - pos, v));
      pos = next;
    }
    return out;
  }

  async blockStatus(offset: number, length: number): Promise<NbdAllocationExtent[]> {
    this.check('blockStatus');
    return this.runs(offset, length, (g) => this.state[g]!, (len, s) => ({
      length: len,
      hole: s === G.Hole,
      zero: s !== G.Data,
    })) as NbdAllocationExtent[];
  }

  async allocationDepth(offset: number, length: number): Promise<NbdDepthExtent[]> {
    return this.runs(offset, length, (g) => (this.state[g] === G.Hole ? 0 : 1), (len, depth) => ({ length: len, depth })) as NbdDepthExtent[];
  }

  dirtyBitmap(name: string): NbdDirtyBitmapSource | undefined {
    const bits = this.dirty.get(name);
    if (!bits) return undefined;
    return {
      extents: async (offset: number, length: number): Promise<NbdDirtyExtent[]> =>
        this.runs(offset, length, (g) => bits[g] === 1, (len, dirty) => ({ length: len, dirty })) as NbdDirtyExtent[],
    };
  }
}

/** An export over a raw file. Node cannot see holes (no SEEK_DATA), so everything is data. */
export class FileBackend extends TestBackendBase implements NbdExportBackend {
  private constructor(
    o: BackendOptions,
    private readonly fh: FileHandle,
    private readonly length: number,
  ) {
    super(o);
  }

  static async open(path: string, o: BackendOptions): Promise<FileBackend> {
    const writable = o.writable ?? true;
    const fh = await open(path, writable ? 'r+' : 'r');
    const { size } = await fh.stat();
    return new FileBackend(o, fh, size);
  }

  size(): number {
    return this.length;
  }

  // The callback API on the handle's fd: measurably cheaper per request than FileHandle.read/write.
  private pread(buf: Buffer, at: number, len: number, pos: number): Promise<number> {
    return new Promise((resolve, reject) => fsRead(this.fh.fd, buf, at, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
  }

  private pwrite(buf: Buffer, at: number, len: number, pos: number): Promise<number> {
    return new Promise((resolve, reject) => fsWrite(this.fh.fd, buf, at, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    this.check('read');
    let done = 0;
    while (done < buf.length) {
      const bytesRead = await this.pread(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) {
        buf.fill(0, done);
        return;
      }
      done += bytesRead;
    }
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.check('write');
    let done = 0;
    while (done < data.length) {
      const bytesWritten = await this.pwrite(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    if (fua) await this.fh.datasync();
  }

  async writeZeroes(offset: number, length: number, opts: NbdZeroOptions): Promise<void> {
    this.check('writeZeroes');
    // Without fallocate from Node, zeroing is writing: never "fast".
    if (opts.fastZero) throw errnoError('ENOTSUP');
    const zeroes = Buffer.alloc(Math.min(length, 1024 * 1024));
    for (let pos = offset; pos < offset + length; pos += zeroes.length) {
      await this.write(pos, zeroes.subarray(0, Math.min(zeroes.length, offset + length - pos)), false);
    }
    if (opts.fua) await this.fh.datasync();
  }

  async trim(): Promise<void> {
    this.check('trim');
  }

  async flush(): Promise<void> {
    this.check('flush');
    await this.fh.datasync();
  }

  async blockStatus(_offset: number, length: number): Promise<NbdAllocationExtent[]> {
    return [{ length, hole: false, zero: false }];
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
