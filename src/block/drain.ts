/**
 * Drained sections: while a node is drained, no new request reaches it or
 * anything above it, and every request that was in flight has finished.
 *
 * Requests are held only where they enter the graph, at the BlockBackends
 * above the drained node. A request that was admitted before the drain runs
 * to completion through every node below, without ever waiting again: that
 * is what makes a drain always finish. Nothing here takes a lock; a caller
 * must not hold, while it awaits drainedBegin, anything that in-flight I/O
 * might need (QEMU's AioContext deadlock, see transaction/runner.ts).
 */
import type { BlockBackend } from './backend.js';
import { waitUntil } from './inflight.js';
import type { BlockNode } from './node.js';

export class DrainedSection {
  private ended = false;

  constructor(
    readonly nodes: readonly BlockNode[],
    private readonly backends: ReadonlySet<BlockBackend>,
  ) {}

  /** Ends the section: held requests are admitted again. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const b of this.backends) {
      b.quiesce--;
      b.release();
    }
  }
}

/** The nodes above `nodes` (themselves included) and the backends on top of them. */
function collectAbove(nodes: readonly BlockNode[]): { nodes: Set<BlockNode>; backends: Set<BlockBackend> } {
  const seenNodes = new Set<BlockNode>();
  const backends = new Set<BlockBackend>();
  const stack = [...nodes];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seenNodes.has(n)) continue;
    seenNodes.add(n);
    for (const edge of n.parents) {
      const p = edge.parent;
      if (p.parentKind === 'node') stack.push(p as BlockNode);
      else if (p.parentKind === 'backend') backends.add(p as BlockBackend);
    }
  }
  return { nodes: seenNodes, backends };
}

export async function drainedBegin(nodes: readonly BlockNode[]): Promise<DrainedSection> {
  const above = collectAbove(nodes);
  for (const b of above.backends) b.quiesce++;
  const section = new DrainedSection(nodes, above.backends);
  await waitUntil(() => {
    for (const b of above.backends) if (b.inFlight.count > 0) return false;
    for (const n of above.nodes) if (n.inFlight.count > 0) return false;
    return true;
  });
  return section;
}
