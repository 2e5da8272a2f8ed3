/**
 * Recomputes the permissions of every edge below the changed nodes and checks
 * them: writers on read-only nodes, conflicting parents, image locks. Nodes
 * are visited parents-first, so each is checked once with its final parent
 * edges. Throws QEMU's error on the first problem; the caller then aborts
 * its GraphChange and nothing has changed.
 */
import type { GraphChange } from './graph-change.js';
import type { ImageLocks } from './locks.js';
import type { BlockNode } from './node.js';
import {
  backingChildPerms,
  checkAllows,
  cumulative,
  PERM_ALL,
  PERM_WRITE,
  PERM_WRITE_UNCHANGED,
  rawChildPerms,
  storageChildPerms,
  type PermPair,
} from './permissions.js';
import { QmpError } from '../qmp/error.js';

function childPerms(node: BlockNode, edgeName: string, cum: PermPair): PermPair {
  if (edgeName === 'backing') return backingChildPerms(cum);
  if (node.driver.name === 'raw') {
    // raw_open(): with a non-zero offset or a size the node is a window, else a filter of its file
    return rawChildPerms(cum, Number(node.options.offset ?? 0) !== 0 || node.options.size !== undefined);
  }
  return storageChildPerms(cum, !node.readOnly);
}

/** The start nodes and everything below them, parents before children. */
function topDown(start: Iterable<BlockNode>): BlockNode[] {
  const affected = new Set<BlockNode>();
  const stack = [...start];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (affected.has(n) || n.closed) continue;
    affected.add(n);
    for (const e of n.children.values()) stack.push(e.child);
  }
  const pending = new Map<BlockNode, number>();
  for (const n of affected) {
    pending.set(n, n.parents.filter((e) => e.parent.parentKind === 'node' && affected.has(e.parent as BlockNode)).length);
  }
  const order: BlockNode[] = [];
  const ready = [...affected].filter((n) => pending.get(n) === 0);
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const e of n.children.values()) {
      const left = pending.get(e.child)! - 1;
      pending.set(e.child, left);
      if (left === 0) ready.push(e.child);
    }
  }
  if (order.length !== affected.size) throw QmpError.generic('The block graph would contain a cycle');
  return order;
}

/**
 * `goingReadOnly`: nodes a reopen is switching from read-write to read-only,
 * for which QEMU names the node (bdrv_node_refresh_perm()).
 */
export function refreshPerms(
  change: GraphChange,
  locks: ImageLocks,
  start: Iterable<BlockNode>,
  goingReadOnly?: ReadonlySet<BlockNode>,
): void {
  // bdrv_list_refresh_perms(): per node, conflicting parents first (bdrv_parent_perms_conflict),
  // then writers on a read-only node, then the image locks (bdrv_node_refresh_perm)
  for (const node of topDown(start)) {
    for (const a of node.parents) {
      for (const b of node.parents) if (a !== b) checkAllows(node.nodeName, a, b);
    }
    const cum = cumulative(node.parents);
    if (cum.perm & (PERM_WRITE | PERM_WRITE_UNCHANGED) && node.readOnly) {
      if (goingReadOnly?.has(node)) {
        throw QmpError.generic(`Read-only block node '${node.nodeName}' cannot support read-write users`);
      }
      throw QmpError.generic('Block node is read-only');
    }
    locks.check(node, cum);
    for (const edge of node.children.values()) {
      const next = childPerms(node, edge.edgeName, cum);
      // bdrv_child_perm(): a force-share child is shared with everyone
      if (edge.child.forceShare) next.shared = PERM_ALL;
      if (next.perm !== edge.perm || next.shared !== edge.shared) change.setPerms(edge, next.perm, next.shared);
    }
  }
}
