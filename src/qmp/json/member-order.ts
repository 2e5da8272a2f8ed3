/**
 * Members of a JSON object come out in QEMU's QDict order (a hash table's,
 * see qdict-order.ts). The order of a key set is computed once; key sets are
 * found by walking a trie of their keys in insertion order, so looking one
 * up builds no string.
 */
import { qdictOrder } from '../qdict-order.js';
import { encodeString } from './scalars.js';

export interface Member {
  key: string;
  /** '"key": ' as it goes out */
  label: string;
  /** The label's bytes, first in an object / after another member (', ' first). */
  firstBytes: Uint8Array;
  nextBytes: Uint8Array;
}

interface ShapeNode {
  next: Map<string, ShapeNode>;
  /** The members in wire order, once this key set has been seen. */
  order?: Member[];
}

/** Bounds the trie; past it, the trie starts again empty. */
const MAX_SHAPE_NODES = 16384;
let root: ShapeNode = { next: new Map() };
let nodes = 0;

/** `obj`'s members (those not undefined) in wire order. */
export function memberOrder(obj: Record<string, unknown>): Member[] {
  let node = root;
  for (const key in obj) {
    if (obj[key] === undefined) continue;
    let child = node.next.get(key);
    if (!child) {
      if (++nodes > MAX_SHAPE_NODES) {
        root = { next: new Map() };
        nodes = 0;
        return memberOrder(obj);
      }
      child = { next: new Map() };
      node.next.set(key, child);
    }
    node = child;
  }
  if (!node.order) {
    const keys: string[] = [];
    for (const key in obj) if (obj[key] !== undefined) keys.push(key);
    node.order = qdictOrder(keys).map((key) => {
      const label = encodeString(key) + ': ';
      return { key, label, firstBytes: Buffer.from(label, 'latin1'), nextBytes: Buffer.from(', ' + label, 'latin1') };
    });
  }
  return node.order;
}
