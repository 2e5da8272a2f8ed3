/**
 * QEMU 7.2's block permission model: every edge (parent → child node) holds
 * `perm` (what the parent does to the child) and `shared` (what it lets
 * others do). A node's parents must be pairwise compatible.
 */
import { QmpError } from '../qmp/error.js';
import type { BlockPermission } from '../qapi/generated/types.js';

export const PERM_CONSISTENT_READ = 1;
export const PERM_WRITE = 2;
export const PERM_WRITE_UNCHANGED = 4;
export const PERM_RESIZE = 8;
export const PERM_ALL = 15;

const ORDER: readonly [number, string, string][] = [
  // bit, BlockPermission enum value, bdrv_perm_names() text
  [PERM_CONSISTENT_READ, 'consistent-read', 'consistent read'],
  [PERM_WRITE, 'write', 'write'],
  [PERM_WRITE_UNCHANGED, 'write-unchanged', 'write unchanged'],
  [PERM_RESIZE, 'resize', 'resize'],
];

/** As x-debug-query-block-graph lists them. */
export function permList(perm: number): BlockPermission[] {
  return ORDER.filter(([bit]) => perm & bit).map(([, name]) => name as BlockPermission);
}

/** As QEMU's error texts spell them ("consistent read, write"). */
export function permNames(perm: number): string {
  return ORDER.filter(([bit]) => perm & bit)
    .map(([, , text]) => text)
    .join(', ');
}

export interface PermPair {
  perm: number;
  shared: number;
}

export const NO_PERMS: PermPair = { perm: 0, shared: PERM_ALL };

/**
 * Permissions a format node takes on its `file` child (bdrv_default_perms_for_storage,
 * role data+metadata): what its parents need, plus read, plus write/resize when the node
 * is writable; nobody else may write or resize under the format's metadata.
 */
export function storageChildPerms(parent: PermPair, writable: boolean): PermPair {
  let perm = parent.perm | PERM_CONSISTENT_READ;
  if (writable) perm |= PERM_WRITE | PERM_RESIZE;
  if (perm & PERM_WRITE_UNCHANGED) perm |= PERM_WRITE;
  if (perm & PERM_WRITE) perm |= PERM_RESIZE;
  const shared = parent.shared & ~(PERM_WRITE | PERM_RESIZE);
  return { perm, shared };
}

/**
 * Permissions an overlay takes on its `backing` child (bdrv_default_perms_for_cow):
 * only consistent reads, and it tolerates writers if its own parents do.
 */
export function backingChildPerms(parent: PermPair): PermPair {
  const perm = parent.perm & PERM_CONSISTENT_READ;
  let shared = parent.shared & PERM_WRITE ? PERM_WRITE | PERM_RESIZE : 0;
  shared |= PERM_CONSISTENT_READ | PERM_WRITE_UNCHANGED;
  return { perm, shared };
}

/** Filters pass their parents' needs through unchanged. */
export function filterChildPerms(parent: PermPair): PermPair {
  return { perm: parent.perm, shared: parent.shared };
}

/**
 * raw's `file` child (raw_child_perm): a filter without offset/size; with a window
 * a data child (no one else may resize it). Either way write and resize are taken
 * only when a parent needs them, so read-only raw nodes can share a file.
 */
export function rawChildPerms(parent: PermPair, window: boolean): PermPair {
  if (!window) return filterChildPerms(parent);
  let perm = parent.perm;
  if (perm & PERM_WRITE_UNCHANGED) perm |= PERM_WRITE;
  if (perm & PERM_WRITE) perm |= PERM_RESIZE;
  perm = (perm & ~(PERM_WRITE | PERM_RESIZE)) | (parent.perm & (PERM_WRITE | PERM_RESIZE));
  return { perm, shared: parent.shared & ~PERM_RESIZE };
}

/** Cumulative permissions of a node: union of its parents' perms, intersection of their shared sets. */
export function cumulative(edges: Iterable<PermPair>): PermPair {
  let perm = 0;
  let shared = PERM_ALL;
  for (const e of edges) {
    perm |= e.perm;
    shared &= e.shared;
  }
  return { perm, shared };
}

export interface PermUser {
  /** bdrv_child_user_desc(): "node 'x'", "block device 'drive0'", "an unnamed block device" */
  describe(): string;
  readonly edgeName: string;
  readonly perm: number;
  readonly shared: number;
}

/** bdrv_a_allow_b(): may `b` do what it does while `a` holds the node? */
export function checkAllows(nodeName: string, a: PermUser, b: PermUser): void {
  if ((b.perm & a.shared) === b.perm) return;
  throw QmpError.generic(
    `Permission conflict on node '${nodeName}': permissions '${permNames(b.perm & ~a.shared)}' are ` +
      `both required by ${b.describe()} (uses node '${nodeName}' as '${b.edgeName}' child) and ` +
      `unshared by ${a.describe()} (uses node '${nodeName}' as '${a.edgeName}' child).`,
  );
}
