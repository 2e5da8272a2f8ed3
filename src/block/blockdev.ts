/**
 * blockdev-add, blockdev-del and named drives: graph changes made under the
 * graph mutex, checked as a whole, and undone completely when they fail.
 */
import { QmpError } from '../qmp/error.js';
import { newDict, type QDict } from '../qmp/json/value.js';
import { BlockBackend } from './backend.js';
import { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import { closeUnused } from './lifecycle.js';
import type { BlockNode } from './node.js';
import { openNode, probeFormat, type OpenScope } from './open.js';
import { refreshPerms } from './perm-refresh.js';
import { PERM_ALL, PERM_CONSISTENT_READ } from './permissions.js';

/** Closes what a failed open left behind; the GraphChange was aborted already. */
async function discardOpened(scope: OpenScope): Promise<void> {
  for (const node of scope.opened.reverse()) {
    node.closed = true;
    scope.graph.remove(node);
    try {
      await node.instance.close();
    } catch (err) {
      scope.graph.log.error({ err, node: node.nodeName }, 'closing a half-opened node failed');
    }
  }
}

/**
 * Opens a node tree and lets `attach` hook it into the graph (monitor
 * ownership, a drive), then checks permissions; all or nothing.
 */
export async function openAndAttach(
  graph: BlockGraph,
  opts: QDict,
  attach: (node: BlockNode, change: GraphChange) => void,
  inheritReadOnly = false,
): Promise<BlockNode> {
  const change = new GraphChange();
  const scope: OpenScope = { graph, change, opened: [] };
  try {
    const node = await openNode(scope, opts, { readOnly: inheritReadOnly });
    attach(node, change);
    refreshPerms(change, graph.locks, scope.opened);
    change.commit();
    return node;
  } catch (err) {
    change.abort();
    await discardOpened(scope);
    throw err;
  }
}

export function blockdevAdd(graph: BlockGraph, opts: QDict): Promise<BlockNode> {
  if (opts['node-name'] === undefined) {
    return Promise.reject(QmpError.generic("'node-name' must be specified for the root node"));
  }
  return graph.mutex.run(() =>
    openAndAttach(graph, opts, (node, change) => {
      node.monitorOwned = true;
      change.record(() => (node.monitorOwned = false));
    }),
  );
}

/** "Node 'x' is busy: ..." when something blocks removing or changing the node. */
export function busyReason(node: BlockNode): string | undefined {
  for (const e of node.parents) {
    if (e.edgeName === 'backing' && e.parent.parentKind === 'node') {
      return `node is used as backing hd of '${(e.parent as BlockNode).nodeName}'`;
    }
  }
  return undefined;
}

/** bdrv_get_device_or_node_name() */
export function deviceOrNodeName(node: BlockNode): string {
  for (const e of node.parents) {
    if (e.parent instanceof BlockBackend && e.parent.name) return e.parent.name;
  }
  return node.nodeName;
}

export function blockdevDel(graph: BlockGraph, name: string): Promise<void> {
  return graph.mutex.run(async () => {
    const node = graph.findNode(name);
    if (!node) throw QmpError.generic(`Failed to find node with node-name='${name}'`);
    if (node.parents.some((e) => e.parent.parentKind === 'backend')) throw QmpError.generic(`Node ${name} is in use`);
    const busy = busyReason(node);
    if (busy) throw QmpError.generic(`Node '${deviceOrNodeName(node)}' is busy: ${busy}`);
    if (!node.monitorOwned) throw QmpError.generic(`Node ${name} is not owned by the monitor`);
    if (node.parents.length > 0) throw QmpError.generic(`Block device ${deviceOrNodeName(node)} is in use`);
    node.monitorOwned = false;
    await closeUnused(graph, [node]);
  });
}

export interface DriveOptions {
  id: string;
  file?: string;
  format?: string;
  nodeName?: string;
  readOnly: boolean;
}

/** A named drive (a -drive if=none BlockBackend): it holds its node, without writing. */
export function driveAdd(graph: BlockGraph, d: DriveOptions): Promise<BlockBackend> {
  return graph.mutex.run(async () => {
    if (graph.drives.has(d.id)) throw QmpError.generic(`Duplicate ID '${d.id}' for drive`);
    if (graph.findNode(d.id)) throw QmpError.generic(`Device name '${d.id}' conflicts with an existing node name`);
    const backend = new BlockBackend(d.id, PERM_CONSISTENT_READ, PERM_ALL);
    if (d.file !== undefined) {
      const file = newDict();
      file.driver = 'file';
      file.filename = d.file;
      const opts = newDict();
      opts.driver = d.format ?? (await probeFormat(d.file));
      opts.file = file;
      if (d.nodeName !== undefined) opts['node-name'] = d.nodeName;
      if (d.readOnly) opts['read-only'] = true;
      await openAndAttach(graph, opts, (node, change) => change.link(backend.attach(node)));
    }
    graph.drives.set(d.id, backend);
    return backend;
  });
}
