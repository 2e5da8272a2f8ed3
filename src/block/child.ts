/**
 * An edge of the graph (QEMU's BdrvChild): parent → child node under a role
 * name (`file`, `backing`, `root`), with the permissions the parent holds.
 * Drivers do their child I/O through it; it never waits on a drain, since
 * the request it serves was admitted already (see drain.ts).
 */
import type { BlockStatusExtent, ChildIo, DriverImageInfo, WriteFlags, ZeroFlags } from './drivers/driver.js';
import type { BlockNode } from './node.js';
import type { NodeParent } from './parent.js';
import type { PermUser } from './permissions.js';

export class BdrvChild implements ChildIo, PermUser {
  perm = 0;
  shared = 0;

  constructor(
    readonly parent: NodeParent,
    readonly edgeName: string,
    public child: BlockNode,
  ) {}

  get nodeName(): string {
    return this.child.nodeName;
  }

  describe(): string {
    return this.parent.describeUser();
  }

  length(): number {
    return this.child.length();
  }

  takeKnownHead(): Buffer | undefined {
    return this.child.takeKnownHead();
  }

  /** Reads past the child's end give zeroes (a backing file shorter than its overlay). */
  read(offset: number, buf: Buffer): Promise<void> {
    const len = this.child.length();
    if (offset + buf.length <= len || this.child.driver.protocol) return this.child.read(offset, buf);
    if (offset >= len) {
      buf.fill(0);
      return Promise.resolve();
    }
    buf.fill(0, len - offset);
    return this.child.read(offset, buf.subarray(0, len - offset));
  }

  write(offset: number, data: Buffer, flags: WriteFlags = {}): Promise<void> {
    return this.child.write(offset, data, flags);
  }

  writeZeroes(offset: number, length: number, flags: ZeroFlags = {}): Promise<void> {
    return this.child.writeZeroes(offset, length, flags);
  }

  discard(offset: number, length: number): Promise<void> {
    return this.child.discard(offset, length);
  }

  flush(): Promise<void> {
    return this.child.flush();
  }

  truncate(length: number): Promise<void> {
    return this.child.truncate(length);
  }

  blockStatus(offset: number, length: number): Promise<BlockStatusExtent> {
    return this.child.blockStatusAbove(offset, length);
  }

  imageInfo(): DriverImageInfo | undefined {
    return this.child.instance.imageInfo?.();
  }
}
