/**
 * Changing nodes in place: block_resize, block-set-write-threshold and
 * change-backing-file, with QEMU 7.2's checks and texts (blockdev-reopen:
 * blockdev-reopen.ts).
 */
import { QmpError } from '../qmp/error.js';
import { BlockBackend } from './backend.js';
import { busyReason } from './blockdev.js';
import { drainedBegin } from './drain.js';
import { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';
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
      // bdrv_co_truncate() asks the driver whatever the size
      await node.truncate(size);
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
