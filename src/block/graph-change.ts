/**
 * A graph change as an undo log (QEMU's Transaction of graph operations):
 * structural edits are applied at once and recorded; permissions are then
 * refreshed and checked; on any error `abort()` restores the graph exactly,
 * so a failing command leaves nothing changed.
 */
import { BdrvChild } from './child.js';
import { BlockNode } from './node.js';
import type { NodeParent } from './parent.js';

export class GraphChange {
  private readonly undo: (() => void)[] = [];
  private readonly onCommit: (() => void)[] = [];
  private done = false;

  /** Remember how to put something back. */
  record(undo: () => void): void {
    this.undo.push(undo);
  }

  /** Run when the change is kept (e.g. close what was detached). */
  whenCommitted(fn: () => void): void {
    this.onCommit.push(fn);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    for (const u of this.undo.reverse()) u();
  }

  commit(): void {
    if (this.done) return;
    this.done = true;
    for (const fn of this.onCommit) fn();
  }

  attach(parent: NodeParent & { children?: Map<string, BdrvChild> }, name: string, child: BlockNode): BdrvChild {
    const edge = new BdrvChild(parent, name, child);
    this.link(edge);
    return edge;
  }

  /** Adds an existing edge object (a BlockBackend's root) to its child. */
  link(edge: BdrvChild): void {
    const parent = edge.parent as NodeParent & { children?: Map<string, BdrvChild> };
    parent.children?.set(edge.edgeName, edge);
    edge.child.parents.unshift(edge);
    childrenChanged(edge);
    this.record(() => {
      if (parent.children?.get(edge.edgeName) === edge) parent.children.delete(edge.edgeName);
      removeFrom(edge.child.parents, edge);
      childrenChanged(edge);
    });
  }

  detach(edge: BdrvChild): void {
    const parent = edge.parent as NodeParent & { children?: Map<string, BdrvChild> };
    const index = edge.child.parents.indexOf(edge);
    parent.children?.delete(edge.edgeName);
    removeFrom(edge.child.parents, edge);
    childrenChanged(edge);
    this.record(() => {
      parent.children?.set(edge.edgeName, edge);
      edge.child.parents.splice(index, 0, edge);
      childrenChanged(edge);
    });
  }

  /**
   * Points `edge` at another node (moving a parent to a new overlay). `asNewChild`:
   * the parent lists it as its newest child, as QEMU's new BdrvChild would be
   * (blockdev-reopen's new file), though drivers keep doing their I/O through it.
   */
  retarget(edge: BdrvChild, to: BlockNode, asNewChild = false): void {
    const from = edge.child;
    const index = from.parents.indexOf(edge);
    removeFrom(from.parents, edge);
    edge.child = to;
    to.parents.unshift(edge);
    const siblings = (edge.parent as NodeParent & { children?: Map<string, BdrvChild> }).children;
    const order = siblings ? [...siblings] : [];
    if (asNewChild && siblings) {
      siblings.delete(edge.edgeName);
      siblings.set(edge.edgeName, edge);
    }
    childrenChanged(edge);
    this.record(() => {
      removeFrom(to.parents, edge);
      edge.child = from;
      from.parents.splice(index, 0, edge);
      if (asNewChild && siblings) {
        siblings.clear();
        for (const [name, e] of order) siblings.set(name, e);
      }
      childrenChanged(edge);
    });
  }

  setReadOnly(node: BlockNode, readOnly: boolean): void {
    const old = node.readOnly;
    node.readOnly = readOnly;
    this.record(() => (node.readOnly = old));
  }

  setPerms(edge: BdrvChild, perm: number, shared: number): void {
    const old = { perm: edge.perm, shared: edge.shared };
    edge.perm = perm;
    edge.shared = shared;
    this.record(() => {
      edge.perm = old.perm;
      edge.shared = old.shared;
    });
  }
}

/** A node's filename spells out its children: a node whose children changed has another one. */
function childrenChanged(edge: BdrvChild): void {
  if (edge.parent instanceof BlockNode) edge.parent.filenameChanged();
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
