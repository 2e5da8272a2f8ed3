/**
 * Switching nodes between read-only and read-write, in QEMU's order
 * (bdrv_reopen_multiple): the permissions are checked before anything
 * changes; in a drained section, a node going read-only stores its
 * persistent bitmaps and flushes while it can still be written; then the
 * graph switches and the drivers reopen, parents first going read-only and
 * children first going read-write. A driver that fails undoes the lot.
 */
import { markBitmapsReadOnly, releaseReadOnlyBitmaps, storeNodeBitmaps } from './bitmap-persistence.js';
import { drainedBegin } from './drain.js';
import { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';
import { refreshPerms } from './perm-refresh.js';

export interface ReopenStep {
  node: BlockNode;
  readOnly: boolean;
}

/**
 * `plan` lists parents before their children. `edit` changes edges (another
 * file or backing child) in the same switch, so that permissions are checked
 * on the graph as it will be; `released` are the children it lets go, whose
 * own edges are checked again too.
 */
export async function reopenNodes(
  graph: BlockGraph,
  plan: readonly ReopenStep[],
  edit?: (change: GraphChange) => void,
  released: readonly BlockNode[] = [],
): Promise<void> {
  const steps = plan.filter((s) => s.node.readOnly !== s.readOnly);
  const goingReadOnly = new Set(steps.filter((s) => s.readOnly).map((s) => s.node));
  const switchGraph = (): GraphChange => {
    const change = new GraphChange();
    edit?.(change);
    for (const s of steps) change.setReadOnly(s.node, s.readOnly);
    try {
      refreshPerms(change, graph.locks, [...plan.map((s) => s.node), ...released], goingReadOnly);
    } catch (err) {
      change.abort();
      throw err;
    }
    return change;
  };
  // only a check: the graph switches once the bitmaps are stored
  switchGraph().abort();
  const section = await drainedBegin(plan.map((s) => s.node));
  try {
    for (const s of steps) {
      if (!s.readOnly) continue;
      await storeNodeBitmaps(s.node);
      markBitmapsReadOnly(s.node);
      await s.node.flush();
    }
    const change = switchGraph();
    const order = [...steps.filter((s) => s.readOnly), ...steps.filter((s) => !s.readOnly).reverse()];
    const done: ReopenStep[] = [];
    try {
      for (const s of order) {
        await s.node.instance.reopen?.(s.readOnly);
        done.push(s);
      }
    } catch (err) {
      for (const s of done.reverse()) {
        await s.node.instance.reopen?.(!s.readOnly).catch((undoErr: unknown) => {
          graph.log.error({ err: undoErr, node: s.node.nodeName }, 'undoing a reopen failed');
        });
      }
      change.abort();
      throw err;
    }
    change.commit();
    for (const s of steps) if (!s.readOnly) releaseReadOnlyBitmaps(s.node);
  } finally {
    section.end();
  }
}
