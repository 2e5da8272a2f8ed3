/**
 * The node a format's blockdev-create writes into (the `file` BlockdevRef):
 * an existing node by name, or one opened from an inline definition for the
 * time of the job. The job writes through an anonymous BlockBackend that
 * takes write and resize and shares everything, as QEMU's
 * blk_new_with_bs(bs, WRITE | RESIZE, ALL) does, so permission conflicts,
 * image locks and drained sections apply to the creation like to any user.
 */
import { BlockBackend } from '../backend.js';
import type { BdrvChild } from '../child.js';
import { openAndAttach } from '../blockdev.js';
import type { BlockStatusExtent, ChildIo, WriteFlags, ZeroFlags } from '../drivers/driver.js';
import { GraphChange } from '../graph-change.js';
import type { BlockGraph } from '../graph.js';
import { closeUnused } from '../lifecycle.js';
import type { BlockNode } from '../node.js';
import { refreshPerms } from '../perm-refresh.js';
import { PERM_ALL, PERM_RESIZE, PERM_WRITE } from '../permissions.js';
import type { QDict } from '../../qmp/json/value.js';

export class CreateTarget implements ChildIo {
  private released = false;

  private constructor(
    private readonly graph: BlockGraph,
    private readonly backend: BlockBackend,
    private readonly edge: BdrvChild,
    /** Opened for this job from an inline definition: closed again on release. */
    private readonly ownsNode: boolean,
  ) {
    // x-debug-query-block-graph shows the job's backend, as QEMU's does
    graph.anonymous.add(backend);
  }

  private static newBackend(): BlockBackend {
    return new BlockBackend('', PERM_WRITE | PERM_RESIZE, PERM_ALL);
  }

  /**
   * An existing node, looked up by node-name (bdrv_open_blockdev_ref with a
   * string). `check` runs between the lookup and taking the permissions,
   * where QEMU validates the format's options.
   */
  static attachExisting(graph: BlockGraph, name: string, check: () => void): Promise<CreateTarget> {
    return graph.mutex.run(() => {
      const node = graph.lookup(name, name);
      check();
      const backend = CreateTarget.newBackend();
      const change = new GraphChange();
      const edge = backend.attach(node);
      change.link(edge);
      try {
        refreshPerms(change, graph.locks, [node]);
      } catch (err) {
        change.abort();
        backend.root = null;
        throw err;
      }
      change.commit();
      return new CreateTarget(graph, backend, edge, false);
    });
  }

  /** A node opened from an inline BlockdevOptions, owned by the job. */
  static openInline(graph: BlockGraph, opts: QDict): Promise<CreateTarget> {
    const backend = CreateTarget.newBackend();
    return graph.mutex.run(async () => {
      let edge: BdrvChild | undefined;
      await openAndAttach(graph, opts, (node, change) => {
        edge = backend.attach(node);
        change.link(edge);
      });
      return new CreateTarget(graph, backend, edge!, true);
    });
  }

  get node(): BlockNode {
    return this.edge.child;
  }

  /** Drops the job's permissions on the node, and closes a node the job opened. */
  release(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.released = true;
    return this.graph.mutex.run(async () => {
      const node = this.edge.child;
      const change = new GraphChange();
      change.detach(this.edge);
      // Fewer users only relax permissions; a failure here would be a bug in the graph.
      refreshPerms(change, this.graph.locks, [node]);
      change.commit();
      this.backend.root = null;
      this.graph.anonymous.delete(this.backend);
      if (this.ownsNode) await closeUnused(this.graph, [node]);
    });
  }

  // ChildIo, through the backend's admission gate.
  get nodeName(): string {
    return this.edge.child.nodeName;
  }

  length(): number {
    return this.edge.child.length();
  }

  read(offset: number, buf: Buffer): Promise<void> {
    return this.backend.read(offset, buf);
  }

  write(offset: number, data: Buffer, flags?: WriteFlags): Promise<void> {
    return this.backend.write(offset, data, flags);
  }

  writeZeroes(offset: number, length: number, flags?: ZeroFlags): Promise<void> {
    return this.backend.writeZeroes(offset, length, flags);
  }

  discard(offset: number, length: number): Promise<void> {
    return this.backend.discard(offset, length);
  }

  flush(): Promise<void> {
    return this.backend.flush();
  }

  async truncate(length: number): Promise<void> {
    await this.backend.enter();
    try {
      await this.edge.child.truncate(length);
    } finally {
      this.backend.leave();
    }
  }

  blockStatus(offset: number, length: number): Promise<BlockStatusExtent> {
    return this.backend.blockStatus(offset, length);
  }
}
