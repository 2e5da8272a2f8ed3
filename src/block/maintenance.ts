/**
 * Changing nodes in place: block_resize, block-set-write-threshold,
 * blockdev-reopen and change-backing-file, with QEMU 7.2's checks and texts.
 */
import { QmpError } from '../qmp/error.js';
import { isDict, type QDict } from '../qmp/json/value.js';
import { BlockBackend } from './backend.js';
import { busyReason } from './blockdev.js';
import { drainedBegin } from './drain.js';
import { closeUnused } from './lifecycle.js';
import { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';
import { driverOptions } from './open.js';
import { refreshPerms } from './perm-refresh.js';
import { reopenNodes } from './reopen.js';
import { rootNode } from './snapshot/internal.js';
import { PERM_ALL, PERM_RESIZE } from './permissions.js';

export function blockResize(graph: BlockGraph, device: string | undefined, nodeName: string | undefined, size: number): Promise<void> {
  return graph.mutex.run(async () => {
    const node = graph.lookup(device, nodeName);
    if (size < 0) throw QmpError.generic("Parameter 'size' expects a >0 size");
    // QEMU prints an absent device with printf's "(null)"
    if (busyReason(node)) throw QmpError.generic(`Device '${device ?? '(null)'}' is in use`);
    // a temporary user that asks to resize, so that permissions and locks decide
    const user = new BlockBackend('', PERM_RESIZE, PERM_ALL);
    const change = new GraphChange();
    change.link(user.attach(node));
    try {
      refreshPerms(change, graph.locks, [node]);
    } catch (err) {
      change.abort();
      throw err;
    }
    const section = await drainedBegin([node]);
    try {
      // bdrv_co_truncate() refuses a read-only node whatever the size
      if (node.readOnly) throw QmpError.generic('Image is read-only');
      if (size !== node.instance.length()) await node.truncate(size);
    } finally {
      section.end();
      change.abort(); // the temporary user goes, and every permission with it
    }
  });
}

/** uint64 as QEMU prints it back through an int64 member: 2^64-1 is -1. */
function asInt64(v: number | bigint): number {
  if (typeof v === 'number') return v;
  return Number(BigInt.asIntN(64, v));
}

export function setWriteThreshold(graph: BlockGraph, nodeName: string, threshold: number | bigint): void {
  const node = graph.findNode(nodeName);
  if (!node) throw QmpError.generic(`Device '${nodeName}' not found`);
  node.writeThreshold = asInt64(threshold);
}

/** Options of an existing node that blockdev-reopen may not change. */
const FIXED_OPTIONS = ['driver', 'filename', 'offset', 'size', 'locking', 'aio', 'pr-manager', 'data-file'];
/** qmpd keeps a raw node's window; asking for one it was opened without is not refused here. */
const WINDOW_OPTIONS = new Set(['offset', 'size']);

function checkSame(node: BlockNode, opts: QDict): void {
  for (const key of FIXED_OPTIONS) {
    const now = node.options[key];
    const asked = opts[key];
    if (asked === undefined || (now === undefined && WINDOW_OPTIONS.has(key))) continue;
    // bdrv_reopen_prepare compares what the driver left over with bs->options, where an
    // option never given is absent (so even its default value counts as a change)
    if (JSON.stringify(asked) !== JSON.stringify(now)) throw QmpError.generic(`Cannot change the option '${key}'`);
  }
  // an empty dict survives qdict_flatten under its own key and is left over like the above
  if (isDict(opts.cache) && Object.keys(opts.cache).length === 0) {
    throw QmpError.generic("Cannot change the option 'cache'");
  }
}

/** bdrv_reopen_prepare's own checks, then the driver's reopen_prepare. */
function checkReopenOptions(node: BlockNode, opts: QDict): void {
  if (opts['detect-zeroes'] === 'unmap' && opts.discard !== 'unmap') {
    throw QmpError.generic('setting detect-zeroes to unmap is not allowed without setting discard operation to unmap');
  }
  if (opts.driver === node.driver.name) node.instance.checkReopenOptions?.(driverOptions(opts));
}

/**
 * blockdev-reopen: every listed node (and the children given inline) takes the new
 * options; options left out go back to their defaults, as QEMU does (read-only: off).
 * `backing` (null or a node-name) may swap the backing child in the same switch.
 */
export function blockdevReopen(graph: BlockGraph, list: QDict[]): Promise<void> {
  return graph.mutex.run(async () => {
    const plan: { node: BlockNode; readOnly: boolean }[] = [];
    const edits: { node: BlockNode; backing: BlockNode | null }[] = [];
    const collect = (node: BlockNode, opts: QDict, inheritedRo: boolean | undefined) => {
      checkReopenOptions(node, opts);
      checkSame(node, opts);
      // bdrv_reopen_prepare(): options left out go back to their defaults, and a
      // node with a backing (in the graph or named by its image) has none to go back to
      if (node.driver.supportsBacking && opts.backing === undefined && opts['backing.driver'] === undefined &&
          (node.backing || node.backingFile !== '')) {
        throw QmpError.generic(`backing is missing for '${node.nodeName}'`);
      }
      const backing = opts.backing;
      if (node.driver.supportsBacking && (backing === null || typeof backing === 'string')) {
        const target = backingTarget(graph, node, backing);
        if (target !== (node.backing?.child ?? null)) edits.push({ node, backing: target });
      }
      const readOnly = (opts['read-only'] as boolean | undefined) ?? inheritedRo ?? false;
      plan.push({ node, readOnly });
      const file = opts.file;
      const child = node.file?.child;
      if (!child) return;
      if (isDict(file)) collect(child, file, readOnly);
      else if (file === undefined && child.inheritsFrom === node) plan.push({ node: child, readOnly });
      else if (file === child.nodeName && child.inheritsFrom === node) {
        // bdrv_reopen_queue_child(): a reference to the same child reopens it with
        // its old options; it takes read-only only from an explicit one in the parent's
        const explicit = (child.options['read-only'] as boolean | undefined) ?? (opts['read-only'] as boolean | undefined);
        plan.push({ node: child, readOnly: explicit ?? child.readOnly });
      }
    };
    for (const opts of list) {
      const name = opts['node-name'] as string | undefined;
      if (name === undefined) throw QmpError.generic('node-name not specified');
      const node = graph.findNode(name);
      if (!node) throw QmpError.generic(`Failed to find node with node-name='${name}'`);
      collect(node, opts, undefined);
    }
    const dropped = edits.flatMap((e) => (e.node.backing ? [e.node.backing.child] : []));
    await reopenNodes(graph, plan, (change) => {
      for (const e of edits) {
        if (e.node.backing) change.detach(e.node.backing);
        if (e.backing) change.attach(e.node, 'backing', e.backing);
      }
    });
    // bdrv_set_file_or_backing_noperm(): the old child no longer inherits from the node
    for (const old of dropped) if (edits.some((e) => old.inheritsFrom === e.node)) old.inheritsFrom = undefined;
    await closeUnused(graph, dropped);
  });
}

/**
 * bdrv_reopen_parse_file_or_backing(): the node that `backing` names (null:
 * none), refused when the node is below it already (a cycle).
 */
function backingTarget(graph: BlockGraph, node: BlockNode, backing: string | null): BlockNode | null {
  if (backing === null) return null;
  const target = graph.lookup(undefined, backing);
  const below = [target];
  for (let n = below.pop(); n; n = below.pop()) {
    if (n === node) {
      throw QmpError.generic(`Making '${backing}' a backing child of '${node.nodeName}' would create a cycle`);
    }
    for (const e of n.children.values()) below.push(e.child);
  }
  return target;
}

export function changeBackingFile(graph: BlockGraph, device: string, imageNodeName: string, backingFile: string): Promise<void> {
  return graph.mutex.run(async () => {
    // qmp_get_root_bs(): `device` must not be below another node
    const top = rootNode(graph, device);
    const image = graph.lookup(undefined, imageNodeName);
    if (!image.backing) throw QmpError.generic('not allowing backing file change on an image without a backing file');
    let inChain = false;
    for (let n: BlockNode | undefined = top; n; n = n.backing?.child) if (n === image) inChain = true;
    if (!inChain) throw QmpError.generic(`'${device}' and image file are not in the same chain`);
    const format = image.driver.name;
    if (!image.instance.setBackingReference) {
      throw QmpError.generic(`Could not change backing file to '${backingFile}': Operation not supported`);
    }
    // QEMU reopens a read-only image read-write for the header write, and back
    const wasReadOnly = image.readOnly;
    // its own file goes along; a backing file stays read-only (QEMU's backing options force it)
    const file = image.file?.child;
    const writable = file && file.inheritsFrom === image ? [image, file] : [image];
    if (wasReadOnly) await reopenNodes(graph, writable.map((node) => ({ node, readOnly: false })));
    try {
      await image.instance.setBackingReference(backingFile, format);
    } catch (err) {
      const why = err instanceof QmpError ? err.desc : String(err);
      throw QmpError.generic(`Could not change backing file to '${backingFile}': ${why}`, { cause: err });
    } finally {
      if (wasReadOnly) await reopenNodes(graph, writable.map((node) => ({ node, readOnly: true })));
    }
    image.backingFile = backingFile;
    image.backingFormat = format;
    image.autoBackingFile = backingFile;
  });
}
