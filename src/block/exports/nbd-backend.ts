/**
 * An NBD export served from the graph: every request is admitted at the
 * export's BlockBackend (held while a node below is drained, counted in
 * flight until its reply is queued) and then runs on whatever node the
 * backend's root points at now, so an export follows its node's snapshots.
 */
import type { BlockBackend } from '../backend.js';
import type { DirtyBitmap } from '../bitmap.js';
import type { BlockNode } from '../node.js';
import type {
  NbdAllocationExtent,
  NbdDepthExtent,
  NbdDirtyBitmapSource,
  NbdExportBackend,
  NbdZeroOptions,
} from './nbd/index.js';

export interface GraphNbdOptions {
  name: string;
  description?: string;
  writable: boolean;
  writethrough: boolean;
  allocationDepth: boolean;
  bitmaps: readonly DirtyBitmap[];
}

export class GraphNbdBackend implements NbdExportBackend {
  readonly name: string;
  readonly description: string | undefined;
  readonly writable: boolean;
  readonly allocationDepthEnabled: boolean;
  readonly bitmaps: readonly string[];
  private readonly bitmapByName: Map<string, DirtyBitmap>;
  private readonly writethrough: boolean;
  /** QEMU fixes an export's size when it is created; a snapshot does not change it. */
  private readonly fixedSize: number;

  constructor(
    private readonly bb: BlockBackend,
    opts: GraphNbdOptions,
    /** Called with byte counts for metrics. */
    private readonly account?: (op: 'read' | 'write', bytes: number) => void,
  ) {
    this.name = opts.name;
    this.description = opts.description;
    this.writable = opts.writable;
    this.writethrough = opts.writethrough;
    this.allocationDepthEnabled = opts.allocationDepth;
    this.bitmaps = opts.bitmaps.map((b) => b.name);
    // a client selects a context by name and gets the first bitmap of that name, as in QEMU
    this.bitmapByName = new Map();
    for (const b of opts.bitmaps) if (!this.bitmapByName.has(b.name)) this.bitmapByName.set(b.name, b);
    this.fixedSize = bb.length();
  }

  private get node(): BlockNode {
    return this.bb.root!.child;
  }

  size(): number {
    return this.fixedSize;
  }

  beginRequest(): void | Promise<void> {
    return this.bb.enter();
  }

  endRequest(): void {
    this.bb.leave();
  }

  async read(offset: number, buf: Buffer): Promise<void> {
    await this.node.read(offset, buf);
    this.account?.('read', buf.length);
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    const node = this.node;
    await node.write(offset, data, { fua });
    if (fua || this.writethrough) await node.flush();
    this.account?.('write', data.length);
  }

  async writeZeroes(offset: number, length: number, opts: NbdZeroOptions): Promise<void> {
    const node = this.node;
    await node.writeZeroes(offset, length, { mayUnmap: opts.mayUnmap, noFallback: opts.fastZero, fua: opts.fua });
    if (opts.fua || this.writethrough) await node.flush();
  }

  trim(offset: number, length: number): Promise<void> {
    return this.node.discard(offset, length);
  }

  flush(): Promise<void> {
    return this.node.flush();
  }

  async blockStatus(offset: number, length: number): Promise<NbdAllocationExtent[]> {
    const s = await this.node.blockStatusAbove(offset, length);
    // NBD_STATE_HOLE means "not data": zero clusters and unallocated ranges both read as zeroes
    const data = s.status === 'data';
    return [{ length: s.length, hole: !data, zero: !data }];
  }

  async allocationDepth(offset: number, length: number): Promise<NbdDepthExtent[]> {
    const s = await this.node.blockStatusAbove(offset, length);
    return [{ length: s.length, depth: s.depth }];
  }

  dirtyBitmap(name: string): NbdDirtyBitmapSource | undefined {
    const bitmap = this.bitmapByName.get(name);
    if (!bitmap) return undefined;
    return {
      extents: async (offset, length) => [bitmap.runLength(offset, length)],
    };
  }
}
