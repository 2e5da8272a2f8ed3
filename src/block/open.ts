/**
 * Opening nodes from BlockdevOptions, in QEMU's order: the `file` child
 * first, then the node's name, then the driver, then its backing chain
 * (explicit, `null`, or the backing file named in the image header). On any
 * failure every node opened so far is closed again and nothing stays named.
 */
import { open } from 'node:fs/promises';
import { describeErrno } from '../util/errno.js';
import { QmpError } from '../qmp/error.js';
import { isForeignFormat, refuseForeignImage } from './drivers/foreign-formats.js';
import { isDict, newDict, type QDict, type QValue } from '../qmp/json/value.js';
import type { BdrvChild } from './child.js';
import type { ChildIo, OpenedHostFile } from './drivers/driver.js';
import { findDriver } from './drivers/registry.js';
import { checkLeftoverOptions } from './drivers/runtime-opts.js';
import type { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import { BlockNode } from './node.js';
import { DirtyBitmap } from './bitmap.js';
import { nodeFilename, resolveBackingPath } from './filename.js';
import { refreshPerms } from './perm-refresh.js';

/** Members of BlockdevOptions that every driver has (the union's base). */
export const BASE_OPTIONS = new Set([
  'driver',
  'node-name',
  'discard',
  'cache',
  'read-only',
  'auto-read-only',
  'force-share',
  'detect-zeroes',
]);
/** Members that name children rather than configure the driver. */
const CHILD_OPTIONS = new Set(['file', 'backing', 'data-file']);

const QCOW2_MAGIC = 0x514649fb;

export interface OpenScope {
  readonly graph: BlockGraph;
  readonly change: GraphChange;
  /** Nodes opened by this operation, in opening order (closed again on failure). */
  readonly opened: BlockNode[];
  /** filename → where the file really is (an overlay under a temporary name), maybe already open. */
  readonly hostFiles?: ReadonlyMap<string, { hostPath: string; opened?: OpenedHostFile }>;
}

/** The driver-specific members of BlockdevOptions (neither the union's base nor children). */
export function driverOptions(opts: QDict): QDict {
  const out = newDict();
  for (const [k, v] of Object.entries(opts)) if (!BASE_OPTIONS.has(k) && !CHILD_OPTIONS.has(k)) out[k] = v;
  return out;
}

/** What an implicitly opened child takes from its parent when its own options say nothing. */
export interface Inherited {
  readOnly: boolean;
  forceShare?: boolean;
  cache?: CacheMode;
  /** discard=unmap by default: a format node's own file (QEMU trusts format drivers with it). */
  unmap?: boolean;
}

export interface CacheMode {
  direct: boolean;
  noFlush: boolean;
}

function cacheMode(opts: QDict, inherited: CacheMode | undefined): CacheMode {
  const c = isDict(opts.cache) ? opts.cache : undefined;
  return {
    direct: (c?.direct as boolean | undefined) ?? inherited?.direct ?? false,
    noFlush: (c?.['no-flush'] as boolean | undefined) ?? inherited?.noFlush ?? false,
  };
}

/**
 * Opens the node described by `opts` (and its children); it is named and in the graph
 * when this returns. `inherit` gives what opts do not say (read-only, force-share, cache).
 */
export async function openNode(scope: OpenScope, opts: QDict, inherit: Inherited): Promise<BlockNode> {
  const { graph, change } = scope;
  const driverName = opts.driver as string;
  const driver = findDriver(driverName);
  if (!driver && !isForeignFormat(driverName)) throw QmpError.generic(`Driver '${driverName}' is not supported by qmpd`);
  const readOnly = (opts['read-only'] as boolean | undefined) ?? inherit.readOnly;
  // force-share and the cache mode are inherited by implicit children, like read-only
  const forceShare = (opts['force-share'] as boolean | undefined) ?? inherit.forceShare ?? false;
  const cache = cacheMode(opts, inherit.cache);
  if (forceShare && !readOnly) {
    throw QmpError.generic('force-share=on can only be used with read-only images');
  }
  if (opts['detect-zeroes'] === 'unmap' && opts.discard !== 'unmap') {
    throw QmpError.generic('setting detect-zeroes to unmap is not allowed without setting discard operation to unmap');
  }

  let fileNode: BlockNode | undefined;
  if (!driver?.protocol) {
    const fileRef = opts.file;
    if (fileRef === undefined) throw QmpError.generic("Parameter 'file' is missing");
    fileNode = await resolveChild(scope, fileRef, { readOnly, forceShare, cache, unmap: true });
  }
  if (!driver) return refuseForeignImage(driverName, fileNode!);

  const requested = opts['node-name'] as string | undefined;
  if (requested !== undefined) graph.checkNewName(requested);
  const node = new BlockNode(requested ?? graph.autoName(), requested === undefined, driver, opts, readOnly);
  node.forceShare = forceShare;
  node.cache = cache;
  node.unmap = opts.discard === undefined ? inherit.unmap === true : opts.discard === 'unmap';
  let fileEdge: BdrvChild | undefined;
  if (fileNode) {
    fileEdge = change.attach(node, 'file', fileNode);
    // bdrv_attach_child() checks the new edge's permissions at once: an image lock held
    // elsewhere fails the open of the node it belongs to (a backing file: with its prefix)
    refreshPerms(change, graph.locks, [node]);
  }
  if (fileNode && typeof opts.file !== 'string') fileNode.inheritsFrom = node;

  const dataFileRef = opts['data-file'];
  if (dataFileRef !== undefined) {
    // qcow2_do_open opens the data-file child first, then refuses it for an image whose header
    // names no external data file (qmpd opens no image that has one)
    await resolveChild(scope, dataFileRef, { readOnly, forceShare, cache });
    throw QmpError.generic("'data-file' can only be set for images with an external data file");
  }

  node.instance = await driver.open({
    nodeName: node.nodeName,
    options: driverOptions(opts),
    readOnly,
    cacheDirect: cache.direct,
    hostPath: driver.protocol ? scope.hostFiles?.get(opts.filename as string)?.hostPath : undefined,
    openedFile: driver.protocol ? scope.hostFiles?.get(opts.filename as string)?.opened : undefined,
    file: fileEdge,
    backing: () => (node.backing as ChildIo | undefined) ?? null,
    log: graph.log,
  });
  graph.add(node);
  scope.opened.push(node);
  await loadStoredBitmaps(node);

  if (driver.supportsBacking) {
    const header = node.instance.backingReference?.() ?? null;
    node.backingFile = header?.filename ?? '';
    node.backingFormat = header?.format ?? '';
    node.autoBackingFile = node.backingFile;
    const backingRef = opts.backing;
    if (backingRef === null || backingRef === '') {
      // backing: null — the caller attaches one later (blockdev-snapshot); QEMU 7.2 still
      // takes the deprecated "" as null (bdrv_open_inherit)
    } else if (backingRef !== undefined) {
      const backing = await openingBacking(resolveChild(scope, backingRef, { readOnly: true, cache }));
      // a node just opened has no parents yet, so naming itself is the only possible cycle
      if (backing === node) {
        throw QmpError.generic(`Making '${node.nodeName}' a backing child of '${node.nodeName}' would create a cycle`);
      }
      change.attach(node, 'backing', backing);
      if (typeof backingRef !== 'string') backing.inheritsFrom = node;
    } else if (header) {
      const backing = await openingBacking(openBackingFromHeader(scope, node, header.filename, header.format, cache));
      change.attach(node, 'backing', backing);
      backing.inheritsFrom = node;
      node.autoBackingFile = nodeFilename(backing);
    }
  }
  checkLeftoverOptions(opts, driverName, driver.protocol);
  // bdrv_open() ends with bdrv_refresh_filename(): the name is the node's from now on
  nodeFilename(node);
  return node;
}

/**
 * bdrv_open_backing_file prefixes whatever failed while opening or looking up the backing
 * node (not attaching it) with 'Could not open backing file: '.
 */
async function openingBacking(opening: Promise<BlockNode>): Promise<BlockNode> {
  try {
    return await opening;
  } catch (err) {
    if (!(err instanceof QmpError)) throw err;
    throw new QmpError(err.errorClass, `Could not open backing file: ${err.desc}`, { cause: err, errno: err.errno });
  }
}

/** Persistent bitmaps stored in the image come back as the node's bitmaps, newest first. */
async function loadStoredBitmaps(node: BlockNode): Promise<void> {
  if (!node.instance.loadBitmaps) return;
  for (const stored of await node.instance.loadBitmaps()) {
    // a bitmap left in use by a crash is inconsistent and does not record (QEMU)
    const b = new DirtyBitmap(stored.name, stored.granularity, node.length(), {
      recording: stored.enabled && !stored.inconsistent,
      persistent: true,
    });
    b.restoreBits(stored.bits);
    b.inconsistent = stored.inconsistent ?? false;
    b.inImage = true;
    // a read-only image's bitmaps cannot be modified (qcow2_load_dirty_bitmaps)
    b.readOnly = node.readOnly;
    node.bitmaps.unshift(b);
  }
}

async function resolveChild(scope: OpenScope, ref: QValue, inherit: Inherited): Promise<BlockNode> {
  if (typeof ref === 'string') return scope.graph.lookup(ref, ref);
  if (!isDict(ref)) throw QmpError.generic('Invalid child reference');
  return openNode(scope, ref, inherit);
}

async function openBackingFromHeader(
  scope: OpenScope,
  node: BlockNode,
  filename: string,
  format: string | undefined,
  cache: CacheMode,
): Promise<BlockNode> {
  const imageFile = node.file?.child.instance.filename?.() ?? '';
  const path = resolveBackingPath(imageFile, filename);
  const file = newDict();
  file.driver = 'file';
  file.filename = path;
  const opts = newDict();
  opts.driver = format || (await probeFormat(path));
  opts.file = file;
  return openNode(scope, opts, { readOnly: true, cache });
}

/** A backing file named without its format: qcow2 if it says so, else raw (QEMU probes the same way). */
export async function probeFormat(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw QmpError.generic(`Could not open '${path}': ${describeErrno(err)}`, { cause: err });
  }
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    return head.readUInt32BE(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
  } finally {
    await handle.close();
  }
}
