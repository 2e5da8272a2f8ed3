/**
 * What query-named-block-nodes, query-block and x-debug-query-block-graph
 * report about nodes, shaped and ordered as QEMU 7.2's BlockDeviceInfo,
 * ImageInfo and block graph.
 */
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';
import { fullBackingFilename, nodeFilename } from './filename.js';
import { permList } from './permissions.js';
import { snapshotInfo, snapshotStore } from './snapshot/internal.js';
import type { BdrvChild } from './child.js';
import type {
  BlockDeviceInfo,
  BlockDirtyInfo,
  BlockInfo,
  BlockPermission,
  ImageInfo,
  ImageInfoSpecific,
  XDbgBlockGraph,
  XDbgBlockGraphNodeType,
} from '../qapi/generated/types.js';

/** bdrv_get_allocated_file_size(): protocol drivers answer, format nodes ask their file child. */
function sizeSource(node: BlockNode): BlockNode | undefined {
  for (let n: BlockNode | undefined = node; n; n = n.file?.child) if (n.instance.allocatedSize) return n;
  return undefined;
}

/** ImageInfo, members in QAPI order (the encoder derives QEMU's wire order from it). */
function imageInfo(node: BlockNode, filename: string, actual: number | undefined): ImageInfo {
  const d = node.instance.imageInfo?.();
  const info: ImageInfo = {
    filename,
    format: node.driver.name,
    'dirty-flag': d?.dirtyFlag,
    'actual-size': actual,
    'virtual-size': node.length(),
    'cluster-size': d?.clusterSize || undefined,
  };
  if (node.backingFile) {
    info['backing-filename'] = node.backingFile;
    const full = fullBackingFilename(node);
    if (full) info['full-backing-filename'] = full;
    if (node.backingFormat) info['backing-filename-format'] = node.backingFormat;
  }
  // bdrv_snapshot_list() falls back to the child that stores them (a raw node over a qcow2 one)
  const snapshots = snapshotStore(node)?.instance.listSnapshots?.() ?? [];
  if (snapshots.length > 0) info.snapshots = snapshots.map(snapshotInfo);
  if (d?.formatSpecific) info['format-specific'] = d.formatSpecific as ImageInfoSpecific;
  return info;
}

/**
 * One answer's worth of node information, each piece computed once per node:
 * in a chain of depth d every node repeats the chain below it, so without
 * this a nested query would do O(d²) work for its O(d²) bytes. The only I/O,
 * allocated file sizes, is done for every node at once by load(); the rest
 * is synchronous.
 */
export class InfoCache {
  private readonly sizes = new Map<BlockNode, number | undefined>();
  private readonly flatInfo = new Map<BlockNode, ImageInfo>();
  private readonly chainInfo = new Map<BlockNode, ImageInfo>();

  /** Reads the allocated sizes of `nodes` (and of their backing chains, for nested answers). */
  load(nodes: Iterable<BlockNode>, chains: boolean): Promise<void> | undefined {
    const pending: Promise<void>[] = [];
    const visit = (node: BlockNode) => {
      const source = sizeSource(node);
      if (!source || this.sizes.has(source)) return;
      const size = source.instance.allocatedSize!();
      this.sizes.set(source, typeof size === 'number' ? size : undefined);
      if (typeof size !== 'number') pending.push(size.then((n) => void this.sizes.set(source, n)));
    };
    for (const node of nodes) {
      visit(node);
      if (chains) for (let n = node.backing?.child; n; n = n.backing?.child) visit(n);
    }
    // most sizes are known without I/O: then the answer needs no turn of the event loop
    return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
  }

  image(node: BlockNode): ImageInfo {
    let info = this.flatInfo.get(node);
    if (!info) {
      const source = sizeSource(node);
      info = imageInfo(node, nodeFilename(node), source && this.sizes.get(source));
      this.flatInfo.set(node, info);
    }
    return info;
  }

  /** ImageInfo with the whole backing chain nested under `backing-image`. */
  chain(node: BlockNode): ImageInfo {
    let info = this.chainInfo.get(node);
    if (!info) {
      const own = this.image(node);
      const below = node.backing?.child;
      info = below ? { ...own, 'backing-image': this.chain(below) } : own;
      this.chainInfo.set(node, info);
    }
    return info;
  }

  /** BlockDeviceInfo of a node whose sizes load() has read. */
  device(node: BlockNode, flat: boolean): BlockDeviceInfo {
    const image = flat ? this.image(node) : this.chain(node);
    let depth = 0;
    if (!flat) for (let n = node.backing?.child; n; n = n.backing?.child) depth++;
    // members in QAPI order: the encoder derives QEMU's wire order from it
    const out = {
      file: nodeFilename(node),
      'node-name': node.nodeName,
      ro: node.readOnly,
      drv: node.driver.name,
      backing_file: node.backing ? nodeFilename(node.backing.child) : undefined,
      backing_file_depth: depth,
      encrypted: false,
      detect_zeroes: (node.options['detect-zeroes'] as BlockDeviceInfo['detect_zeroes'] | undefined) ?? 'off',
      bps: 0,
      bps_rd: 0,
      bps_wr: 0,
      iops: 0,
      iops_rd: 0,
      iops_wr: 0,
      image,
      cache: { writeback: true, direct: node.cache.direct, 'no-flush': node.cache.noFlush },
      write_threshold: node.writeThreshold,
    } satisfies BlockDeviceInfo as BlockDeviceInfo;
    if (node.bitmaps.length > 0) out['dirty-bitmaps'] = node.bitmaps.map(dirtyInfo);
    return out;
  }
}

function dirtyInfo(b: BlockNode['bitmaps'][number]): BlockDirtyInfo {
  const i: BlockDirtyInfo = {
    name: b.name,
    count: b.count(),
    granularity: b.granularity,
    recording: b.recording,
    busy: b.busy,
    persistent: b.persistent,
  };
  if (b.inconsistent) i.inconsistent = true;
  return i;
}

export async function blockDeviceInfo(node: BlockNode, flat: boolean): Promise<BlockDeviceInfo> {
  const cache = new InfoCache();
  await cache.load([node], !flat);
  return cache.device(node, flat);
}

export function namedBlockNodes(graph: BlockGraph, flat: boolean): BlockDeviceInfo[] | Promise<BlockDeviceInfo[]> {
  const nodes = graph.newestFirst();
  const cache = new InfoCache();
  const answer = () => nodes.map((node) => cache.device(node, flat));
  const loading = cache.load(nodes, !flat);
  return loading ? loading.then(answer) : answer();
}

/** query-block: one BlockInfo per named drive. */
export async function queryBlock(graph: BlockGraph): Promise<BlockInfo[]> {
  const out: BlockInfo[] = [];
  const cache = new InfoCache();
  await cache.load(
    [...graph.drives.values()].flatMap((d) => (d.node ? [d.node] : [])),
    true,
  );
  for (const drive of graph.drives.values()) {
    const info: BlockInfo = { device: drive.name, type: 'unknown', removable: true, locked: false };
    if (drive.node) info.inserted = cache.device(drive.node, false);
    out.push(info);
  }
  return out;
}

/**
 * x-debug-query-block-graph as QEMU builds it (bdrv_get_xdbg_block_graph):
 * backends, then nodes, each in creation order with its edges (a node's
 * children newest first); ids in order of first mention; and every list
 * (nodes, edges, each edge's permissions) built by prepending, so reversed.
 */
export function blockGraphInfo(graph: BlockGraph): XDbgBlockGraph {
  const ids = new Map<object, number>();
  const idOf = (o: object) => {
    let id = ids.get(o);
    if (id === undefined) ids.set(o, (id = ids.size + 1));
    return id;
  };
  const nodes: { name: string; type: XDbgBlockGraphNodeType; id: number }[] = [];
  const edges: { name: string; parent: number; child: number; perm: BlockPermission[]; 'shared-perm': BlockPermission[] }[] = [];
  const addEdge = (parent: object, e: BdrvChild) =>
    edges.push({ name: e.edgeName, parent: idOf(parent), child: idOf(e.child), perm: permList(e.perm).reverse(), 'shared-perm': permList(e.shared).reverse() });
  const backends = [...new Set([...graph.drives.values(), ...graph.anonymous])].sort((a, b) => a.created - b.created);
  for (const b of backends) {
    nodes.push({ name: b.name, type: 'block-backend', id: idOf(b) });
    if (b.root) addEdge(b, b.root);
  }
  // nodes in the order they were named, children before the nodes that opened them (as QEMU's all_bdrv_states)
  for (const n of graph.allNodes()) {
    nodes.push({ name: n.nodeName, type: 'block-driver', id: idOf(n) });
    for (const e of [...n.children.values()].reverse()) addEdge(n, e);
  }
  return { nodes: nodes.reverse(), edges: edges.reverse() };
}
