/**
 * What query-named-block-nodes, query-block and x-debug-query-block-graph
 * report about nodes, shaped and ordered as QEMU 7.2's BlockDeviceInfo,
 * ImageInfo and block graph.
 */
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';
import { autoBackingFile, nodeFilename } from './filename.js';
import { permList } from './permissions.js';
import type { BlockBackend } from './backend.js';

export interface ImageInfo {
  filename: string;
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'dirty-flag'?: boolean;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'backing-image'?: ImageInfo;
  'format-specific'?: { type: string; data: Record<string, unknown> };
}

async function actualSize(node: BlockNode): Promise<number | undefined> {
  // bdrv_get_allocated_file_size(): protocol drivers answer, format nodes ask their file child
  if (node.instance.allocatedSize) return node.instance.allocatedSize();
  if (node.file) return actualSize(node.file.child);
  return undefined;
}

export async function imageInfo(node: BlockNode): Promise<ImageInfo> {
  const info: ImageInfo = {
    filename: nodeFilename(node),
    format: node.driver.name,
    'virtual-size': node.length(),
  };
  const actual = await actualSize(node);
  if (actual !== undefined) info['actual-size'] = actual;
  const d = node.instance.imageInfo?.();
  if (d) {
    if (d.dirtyFlag !== undefined) info['dirty-flag'] = d.dirtyFlag;
    if (d.clusterSize) info['cluster-size'] = d.clusterSize;
  }
  if (node.backingFile) {
    info['backing-filename'] = node.backingFile;
    const full = autoBackingFile(node);
    if (full && !full.startsWith('json:')) info['full-backing-filename'] = full;
    if (node.backingFormat) info['backing-filename-format'] = node.backingFormat;
  }
  if (d?.formatSpecific) info['format-specific'] = d.formatSpecific;
  return info;
}

export interface DirtyBitmapInfo {
  name: string;
  count: number;
  granularity: number;
  recording: boolean;
  busy: boolean;
  persistent: boolean;
  inconsistent?: boolean;
}

export async function blockDeviceInfo(node: BlockNode, flat: boolean): Promise<Record<string, unknown>> {
  const image = await imageInfo(node);
  let depth = 0;
  if (!flat) {
    let info = image;
    for (let n = node.backing?.child; n; n = n.backing?.child) {
      depth++;
      info['backing-image'] = await imageInfo(n);
      info = info['backing-image'];
    }
  }
  const cache = node.options.cache as { direct?: boolean; 'no-flush'?: boolean } | undefined;
  const out: Record<string, unknown> = {
    file: nodeFilename(node),
    'node-name': node.nodeName,
    ro: node.readOnly,
    drv: node.driver.name,
  };
  if (node.backing) out.backing_file = nodeFilename(node.backing.child);
  Object.assign(out, {
    backing_file_depth: depth,
    encrypted: false,
    detect_zeroes: (node.options['detect-zeroes'] as string | undefined) ?? 'off',
    bps: 0,
    bps_rd: 0,
    bps_wr: 0,
    iops: 0,
    iops_rd: 0,
    iops_wr: 0,
    image,
    cache: { writeback: true, direct: cache?.direct ?? false, 'no-flush': cache?.['no-flush'] ?? false },
    write_threshold: node.writeThreshold,
  });
  if (node.bitmaps.length > 0) {
    out['dirty-bitmaps'] = node.bitmaps.map((b): DirtyBitmapInfo => {
      const i: DirtyBitmapInfo = {
        name: b.name,
        count: b.count(),
        granularity: b.granularity,
        recording: b.recording,
        busy: b.busy,
        persistent: b.persistent,
      };
      if (b.inconsistent) i.inconsistent = true;
      return i;
    });
  }
  return out;
}

export async function namedBlockNodes(graph: BlockGraph, flat: boolean): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const node of graph.newestFirst()) out.push(await blockDeviceInfo(node, flat));
  return out;
}

/** query-block: one BlockInfo per named drive. */
export async function queryBlock(graph: BlockGraph): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const drive of graph.drives.values()) {
    const info: Record<string, unknown> = { device: drive.name, type: 'unknown', removable: true, locked: false };
    if (drive.node) info.inserted = await blockDeviceInfo(drive.node, false);
    out.push(info);
  }
  return out;
}

/** x-debug-query-block-graph: every node, backend and edge with ids local to this answer. */
export function blockGraphInfo(graph: BlockGraph, extraBackends: Iterable<BlockBackend> = []) {
  const ids = new Map<object, number>();
  const idOf = (o: object) => {
    let id = ids.get(o);
    if (id === undefined) ids.set(o, (id = ids.size + 1));
    return id;
  };
  const nodes: { name: string; type: string; id: number }[] = [];
  const edges: { name: string; parent: number; child: number; perm: string[]; 'shared-perm': string[] }[] = [];
  const backends = [...graph.drives.values(), ...graph.anonymous, ...extraBackends];
  for (const b of new Set(backends)) {
    nodes.push({ name: b.name, type: 'block-backend', id: idOf(b) });
    if (b.root) {
      edges.push({ name: 'root', parent: idOf(b), child: idOf(b.root.child), perm: permList(b.root.perm), 'shared-perm': permList(b.root.shared) });
    }
  }
  for (const n of graph.allNodes()) {
    nodes.push({ name: n.nodeName, type: 'block-driver', id: idOf(n) });
    for (const e of n.children.values()) {
      edges.push({ name: e.edgeName, parent: idOf(n), child: idOf(e.child), perm: permList(e.perm), 'shared-perm': permList(e.shared) });
    }
  }
  return { nodes, edges };
}
