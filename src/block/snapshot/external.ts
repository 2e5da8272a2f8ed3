/**
 * What blockdev-snapshot-sync and blockdev-snapshot share (QEMU's
 * external_snapshot_prepare/commit/abort/clean): find and drain the old node,
 * check it may get an overlay, put the overlay on top and move every parent
 * of the old node over to it; at commit the old node becomes read-only.
 */
import type { Logger } from 'pino';
import { QmpError } from '../../qmp/error.js';
import { markBitmapsReadOnly, storeNodeBitmaps } from '../bitmap-persistence.js';
import { busyReason, deviceOrNodeName } from '../blockdev.js';
import { drainedBegin, type DrainedSection } from '../drain.js';
import { GraphChange } from '../graph-change.js';
import type { BlockGraph } from '../graph.js';
import { closeUnused } from '../lifecycle.js';
import type { BlockNode } from '../node.js';
import { refreshPerms } from '../perm-refresh.js';
import { PERM_CONSISTENT_READ, cumulative } from '../permissions.js';

export class ExternalSnapshot {
  old: BlockNode | undefined;
  overlay: BlockNode | undefined;
  readonly change = new GraphChange();
  private drain: DrainedSection | undefined;
  private appended = false;
  /** the base going read-only, awaited by clean() when it stores bitmaps */
  private reopening: Promise<void> | undefined;

  constructor(
    private readonly graph: BlockGraph,
    private readonly log: Logger,
  ) {}

  /** Steps 1-5 of QEMU's prepare: lookup, drain, op blockers, flush. */
  async begin(device: string | undefined, nodeName: string | undefined): Promise<BlockNode> {
    const old = this.graph.lookup(device, nodeName);
    this.old = old;
    this.drain = await drainedBegin([old]);
    const busy = busyReason(old);
    if (busy) throw QmpError.generic(`Node '${deviceOrNodeName(old)}' is busy: ${busy}`);
    if (!old.readOnly) {
      try {
        await old.flush();
      } catch (err) {
        throw QmpError.generic('An IO error has occurred', { cause: err });
      }
    }
    return old;
  }

  /** Overlay checks, then bdrv_append(): overlay.backing = old, old's parents move to the overlay. */
  append(overlay: BlockNode): void {
    const old = this.old!;
    this.overlay = overlay;
    if (cumulative(overlay.parents).perm & PERM_CONSISTENT_READ) throw QmpError.generic('The overlay is already in use');
    if (overlay.driver.filter) throw QmpError.generic('Filters cannot be used as overlays');
    if (overlay.backing) throw QmpError.generic('The overlay already has a backing image');
    if (!overlay.driver.supportsBacking) throw QmpError.generic('The overlay does not support backing images');
    if (subtree(old).has(overlay)) {
      throw QmpError.generic(`Making '${old.nodeName}' a backing child of '${overlay.nodeName}' would create a cycle`);
    }
    const below = subtree(overlay);
    const backingEdge = this.change.attach(overlay, 'backing', old);
    for (const edge of [...old.parents]) {
      if (edge === backingEdge) continue;
      // a parent inside the overlay's own subtree stays where it is (it would make a loop)
      if (edge.parent.parentKind === 'node' && below.has(edge.parent as BlockNode)) continue;
      this.change.retarget(edge, overlay);
    }
    refreshPerms(this.change, this.graph.locks, [overlay, old]);
    this.appended = true;
  }

  /**
   * The old node and the children it opened implicitly become read-only (errors
   * only logged). Their files are reopened read-only in the background, in a
   * drained section of their own (entered while the transaction's still holds),
   * so neither the other commits nor the answer wait for those opens. A node
   * with persistent bitmaps stores them first, while it can still be written,
   * and the answer waits for that: the next query shows them stored, as after
   * QEMU's synchronous reopen.
   */
  commit(): void {
    this.change.commit();
    const old = this.old!;
    if (!this.appended || old.readOnly) return;
    const nodes = [old, ...[...old.children.values()].map((e) => e.child).filter((c) => c.inheritsFrom === old)];
    if (old.instance.storeBitmaps && old.bitmaps.some((b) => b.persistent)) {
      this.reopening = this.storeThenReopen(old, nodes);
    } else if (this.makeReadOnly(old, nodes)) {
      void this.reopenReadOnly(old, nodes);
    }
  }

  private makeReadOnly(old: BlockNode, nodes: BlockNode[]): boolean {
    const reopen = new GraphChange();
    try {
      for (const n of nodes) reopen.setReadOnly(n, true);
      refreshPerms(reopen, this.graph.locks, [old]);
      reopen.commit();
      return true;
    } catch (err) {
      reopen.abort();
      this.log.warn({ err, node: old.nodeName }, 'could not make the snapshot base read-only');
      return false;
    }
  }

  private async storeThenReopen(old: BlockNode, nodes: BlockNode[]): Promise<void> {
    const section = await drainedBegin([old]);
    try {
      await storeNodeBitmaps(old);
      markBitmapsReadOnly(old);
    } catch (err) {
      // as when QEMU's reopen fails: the node stays writable and stores them at close
      this.log.warn({ err, node: old.nodeName }, 'storing persistent bitmaps failed; the snapshot base stays read-write');
      return;
    } finally {
      section.end();
    }
    if (this.makeReadOnly(old, nodes)) await this.reopenReadOnly(old, nodes);
  }

  private async reopenReadOnly(old: BlockNode, nodes: BlockNode[]): Promise<void> {
    const section = await drainedBegin([old]);
    try {
      for (const n of nodes) {
        try {
          await n.instance.reopen?.(true);
        } catch (err) {
          this.log.warn({ err, node: n.nodeName }, 'reopen read-only failed');
        }
      }
    } finally {
      section.end();
    }
  }

  abort(): void {
    this.change.abort();
  }

  /** Ends the drained section; closes what nothing holds any more. */
  async clean(): Promise<void> {
    this.drain?.end();
    await this.reopening;
    if (this.overlay) await closeUnused(this.graph, [this.overlay]);
  }
}

function subtree(node: BlockNode): Set<BlockNode> {
  const seen = new Set<BlockNode>();
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of n.children.values()) stack.push(e.child);
  }
  return seen;
}
