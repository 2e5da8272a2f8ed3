/**
 * When nodes go away: a node lives while something holds it (a parent edge,
 * or the monitor for blockdev-add'ed nodes). Closing flushes it, stores its
 * persistent bitmaps, closes the driver, then lets go of its children.
 */
import { storeBitmapsAtClose } from './bitmap-persistence.js';
import { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';
import { refreshPerms } from './perm-refresh.js';

export function isUnused(node: BlockNode): boolean {
  return !node.closed && node.parents.length === 0 && !node.monitorOwned;
}

async function closeOne(graph: BlockGraph, node: BlockNode): Promise<BlockNode[]> {
  node.closed = true;
  graph.remove(node);
  try {
    await storeBitmapsAtClose(node, graph.log);
    if (!node.readOnly) await node.instance.flush?.();
    await node.instance.close();
  } catch (err) {
    graph.log.error({ err, node: node.nodeName }, 'closing a node failed');
  }
  const children = [...node.children.values()];
  node.children.clear();
  for (const edge of children) {
    const i = edge.child.parents.indexOf(edge);
    if (i >= 0) edge.child.parents.splice(i, 1);
  }
  return children.map((e) => e.child);
}

/**
 * Closes every candidate that nothing holds any more, and then their unused
 * children. The nodes that stay lost a parent (an export, a closed overlay):
 * their edges' permissions are recomputed, as bdrv_root_unref_child() and
 * blk_remove_bs() refresh the child's, so the graph and image locks show only
 * the users that are left.
 */
export async function closeUnused(graph: BlockGraph, candidates: Iterable<BlockNode>): Promise<void> {
  const queue = [...candidates];
  const touched = new Set(queue);
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (!isUnused(node)) continue;
    const children = await closeOne(graph, node);
    for (const c of children) touched.add(c);
    queue.push(...children);
  }
  const left = [...touched].filter((n) => !n.closed);
  if (left.length === 0) return;
  const change = new GraphChange();
  try {
    // fewer users only relax permissions; QEMU ignores a failure here too
    refreshPerms(change, graph.locks, left);
    change.commit();
  } catch {
    change.abort();
  }
}

/** Closes a node regardless of holders (daemon shutdown), children after parents. */
export async function closeAll(graph: BlockGraph): Promise<void> {
  for (const node of graph.newestFirst()) node.monitorOwned = false;
  const roots = graph.newestFirst().filter((n) => n.parents.every((e) => e.parent.parentKind !== 'node'));
  for (const root of roots) {
    for (const e of [...root.parents]) root.parents.splice(root.parents.indexOf(e), 1);
  }
  await closeUnused(graph, roots);
  // anything left (cycles through backends are impossible, but be thorough)
  for (const node of graph.newestFirst()) {
    node.parents.length = 0;
    await closeUnused(graph, [node]);
  }
}
