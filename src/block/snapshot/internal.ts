/**
 * What blockdev-snapshot-internal-sync (a transaction action) and
 * blockdev-snapshot-delete-internal-sync share: QEMU 7.2's root node lookup
 * (qmp_get_root_bs), the node that actually stores snapshots (a format
 * without them falls back to its only child, as bdrv_snapshot_fallback),
 * and the texts of blockdev.c, checked against qemu-storage-daemon.
 */
import { QmpError } from '../../qmp/error.js';
import type { SnapshotInfo } from '../../qapi/generated/types.js';
import type { InternalSnapshot } from '../drivers/driver.js';
import type { BlockGraph } from '../graph.js';
import type { BlockNode } from '../node.js';

export const internalSnapshotErrors = {
  needRoot: () => QmpError.generic('Need a root block node'),
  readOnly: (device: string) => QmpError.generic(`Device '${device}' is read only`),
  unsupported: (format: string, device: string) =>
    QmpError.generic(`Block format '${format}' used by device '${device}' does not support internal snapshots`),
  nameEmpty: () => QmpError.generic('Name is empty'),
  exists: (name: string, device: string) =>
    QmpError.generic(`Snapshot with name '${name}' already exists on device '${device}'`),
  createFailed: (name: string, device: string, why: string) =>
    QmpError.generic(`Failed to create snapshot '${name}' on device '${device}': ${why}`),
  nameOrId: () => QmpError.generic('Name or id must be provided'),
  noList: () => QmpError.generic('Failed to get a snapshot list: Operation not supported'),
  notFound: (id: string | undefined, name: string | undefined, device: string) =>
    QmpError.generic(
      `Snapshot with id '${id ?? 'null'}' and name '${name ?? 'null'}' does not exist on device '${device}'`,
    ),
} as const;

/** qmp_get_root_bs(): `name` as a drive, then as a node-name; the node must have no parent node. */
export function rootNode(graph: BlockGraph, name: string): BlockNode {
  const node = graph.lookup(name, name);
  if (!node.parents.every((e) => e.parent.parentKind === 'backend')) throw internalSnapshotErrors.needRoot();
  return node;
}

/** The node whose driver stores the snapshots of `node`, if any (bdrv_snapshot_fallback). */
export function snapshotStore(node: BlockNode): BlockNode | undefined {
  if (node.instance.createSnapshot && node.instance.deleteSnapshot && node.instance.listSnapshots) return node;
  if (node.children.size !== 1) return undefined;
  const [only] = node.children.values();
  return only === undefined ? undefined : snapshotStore(only.child);
}

/** QEMU's lookup by id and/or name: both must match when both are given. */
export function findInternalSnapshot(
  list: readonly InternalSnapshot[],
  id: string | undefined,
  name: string | undefined,
): InternalSnapshot | undefined {
  if (id === undefined && name === undefined) return undefined;
  return list.find((s) => (id === undefined || s.id === id) && (name === undefined || s.name === name));
}

/** SnapshotInfo, members in QAPI order. */
export function snapshotInfo(s: InternalSnapshot): SnapshotInfo {
  const info: SnapshotInfo = {
    id: s.id,
    name: s.name,
    'vm-state-size': s.vmStateSize,
    'date-sec': s.dateSec,
    'date-nsec': s.dateNsec,
    'vm-clock-sec': s.vmClockSec,
    'vm-clock-nsec': s.vmClockNsec,
  };
  if (s.icount !== undefined) info.icount = s.icount;
  return info;
}

export function errorText(err: unknown): string {
  return err instanceof QmpError ? err.desc : err instanceof Error ? err.message : String(err);
}
