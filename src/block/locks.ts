/**
 * Image locking between the daemon's own nodes, as QEMU's file-posix locks
 * work (matched by device and inode): a node that opens a file already held
 * by another node must not take a permission the other one does not share,
 * nor refuse to share one the other one holds.
 */
import type { BlockNode } from './node.js';
import {
  cumulative,
  permNames,
  type PermPair,
  PERM_CONSISTENT_READ,
  PERM_RESIZE,
  PERM_WRITE,
  PERM_WRITE_UNCHANGED,
} from './permissions.js';
import { QmpError } from '../qmp/error.js';

const BITS = [PERM_CONSISTENT_READ, PERM_WRITE, PERM_WRITE_UNCHANGED, PERM_RESIZE];

export class ImageLocks {
  private readonly byIdentity = new Map<string, Set<BlockNode>>();

  register(node: BlockNode): void {
    const id = node.instance.fileIdentity?.();
    if (id === undefined) return;
    let set = this.byIdentity.get(id);
    if (!set) this.byIdentity.set(id, (set = new Set()));
    set.add(node);
  }

  unregister(node: BlockNode): void {
    const id = node.instance.fileIdentity?.();
    if (id === undefined) return;
    const set = this.byIdentity.get(id);
    set?.delete(node);
    if (set?.size === 0) this.byIdentity.delete(id);
  }

  /** Would `node` holding `wanted` conflict with the other holders of its file? */
  check(node: BlockNode, wanted: PermPair): void {
    if (node.options.locking === 'off') return;
    // a node still opening (its file child is checked as it attaches) has no file of its own yet
    const id = node.instance?.fileIdentity?.();
    if (id === undefined) return;
    const others = [...(this.byIdentity.get(id) ?? [])].filter((n) => n !== node && n.options.locking !== 'off');
    if (others.length === 0) return;
    const held = others.map((n) => cumulative(n.parents));
    for (const bit of BITS) {
      if (wanted.perm & bit && held.some((h) => !(h.shared & bit))) {
        throw QmpError.generic(`Failed to get "${permNames(bit)}" lock`);
      }
    }
    for (const bit of BITS) {
      if (!(wanted.shared & bit) && held.some((h) => h.perm & bit)) {
        throw QmpError.generic(`Failed to get shared "${permNames(bit)}" lock`);
      }
    }
  }
}
