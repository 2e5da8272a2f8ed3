/**
 * BlockBackend: the root parent through which outside users (named drives,
 * exports, jobs) reach a node. It is the admission gate: while any node below
 * it is drained, new requests wait here, and requests already admitted are
 * counted in flight so that the drain can wait for them.
 */
import { BdrvChild } from './child.js';
import type { BlockStatusExtent, WriteFlags, ZeroFlags } from './drivers/driver.js';
import { InFlight } from './inflight.js';
import type { BlockNode, ChainStatus } from './node.js';
import type { NodeParent } from './parent.js';

let nextSerial = 0;

export class BlockBackend implements NodeParent {
  readonly parentKind = 'backend';
  /** Place in QEMU's list of all BlockBackends (creation order). */
  readonly created = ++nextSerial;
  root: BdrvChild | null = null;
  readonly inFlight = new InFlight();
  /** Number of drained sections that cover this backend. */
  quiesce = 0;
  private admitWaiters: (() => void)[] = [];

  constructor(
    /** The device name of a named drive; '' for an anonymous backend (exports). */
    readonly name: string,
    /** The permissions this user takes on its root node. */
    readonly perm: number,
    readonly shared: number,
  ) {}

  describeUser(): string {
    return this.name ? `block device '${this.name}'` : 'an unnamed block device';
  }

  /** Attach the root edge (permissions are refreshed by the caller's graph change). */
  attach(node: BlockNode): BdrvChild {
    const edge = new BdrvChild(this, 'root', node);
    edge.perm = this.perm;
    edge.shared = this.shared;
    this.root = edge;
    return edge;
  }

  get node(): BlockNode | undefined {
    return this.root?.child;
  }

  length(): number {
    return this.root!.child.length();
  }

  read(offset: number, buf: Buffer): Promise<void> {
    return this.admitted(() => this.root!.child.read(offset, buf));
  }

  write(offset: number, data: Buffer, flags: WriteFlags = {}): Promise<void> {
    return this.admitted(() => this.root!.child.write(offset, data, flags));
  }

  writeZeroes(offset: number, length: number, flags: ZeroFlags = {}): Promise<void> {
    return this.admitted(() => this.root!.child.writeZeroes(offset, length, flags));
  }

  discard(offset: number, length: number): Promise<void> {
    return this.admitted(() => this.root!.child.discard(offset, length));
  }

  flush(): Promise<void> {
    return this.admitted(() => this.root!.child.flush());
  }

  blockStatus(offset: number, length: number): Promise<ChainStatus | BlockStatusExtent> {
    return this.admitted(() => this.root!.child.blockStatusAbove(offset, length));
  }

  /**
   * Admission for a request that the caller performs itself on the root node
   * (an NBD request, from admission until its reply is queued): counts it in
   * flight, after waiting if the backend is drained. Pair with leave().
   */
  enter(): void | Promise<void> {
    if (this.quiesce === 0) {
      this.inFlight.inc();
      return;
    }
    return new Promise<void>((resolve) => this.admitWaiters.push(resolve)).then(() => this.enter());
  }

  leave(): void {
    this.inFlight.dec();
  }

  /** Called by drainedEnd when the last drained section over this backend ends. */
  release(): void {
    if (this.quiesce > 0) return;
    const waiters = this.admitWaiters;
    this.admitWaiters = [];
    for (const w of waiters) w();
  }

  private admitted<T>(op: () => Promise<T>): Promise<T> {
    if (this.quiesce === 0) return this.run(op);
    return new Promise<void>((resolve) => this.admitWaiters.push(resolve)).then(() => this.admitted(op));
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    this.inFlight.inc();
    try {
      return await op();
    } finally {
      this.inFlight.dec();
    }
  }
}
