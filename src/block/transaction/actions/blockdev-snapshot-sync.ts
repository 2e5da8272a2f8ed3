/**
 * `blockdev-snapshot-sync`: create a qcow2 overlay file whose backing file is
 * the node's current image, open it and put it on top (QEMU's prepare order,
 * block-transactions.md §3.1). Overlay files of one transaction are created
 * concurrently before the first prepare; each prepare then claims its file
 * if what it would create is still the same, else creates it itself.
 */
import { QmpError } from '../../../qmp/error.js';
import { newDict, type QDict } from '../../../qmp/json/value.js';
import { busyReason } from '../../blockdev.js';
import { nodeFilename } from '../../filename.js';
import type { BlockGraph } from '../../graph.js';
import { closeUnused } from '../../lifecycle.js';
import type { BlockNode } from '../../node.js';
import { openNode, type OpenScope } from '../../open.js';
import type { OpenedHostFile } from '../../drivers/driver.js';
import { ExternalSnapshot } from '../../snapshot/external.js';
import { existingOverlayOptions } from '../../snapshot/existing-overlay-options.js';
import { createOverlayFile, type OverlayFile, type OverlayFileRequest } from '../../snapshot/overlay-file.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'blockdev-snapshot-sync';
const POOL = 'blockdev-snapshot-sync:precreated';

interface Args {
  device?: string;
  'node-name'?: string;
  'snapshot-file': string;
  'snapshot-node-name'?: string;
  format?: string;
  mode?: 'existing' | 'absolute-paths';
}

interface Precreated {
  request: OverlayFileRequest;
  file: Promise<OverlayFile>;
}

/** The checks that come before image creation (steps 6); throws QEMU's errors. */
function checkNewName(graph: BlockGraph, a: Args): void {
  if (a['node-name'] !== undefined && a['snapshot-node-name'] === undefined) {
    throw QmpError.generic('New overlay node-name missing');
  }
  const name = a['snapshot-node-name'];
  if (name !== undefined && (graph.findNode(name) || graph.drives.has(name))) {
    throw QmpError.generic('New overlay node-name already in use');
  }
}

/** What QEMU passes to bdrv_img_create: the old node's length, filename and driver. */
function overlayRequest(old: BlockNode, a: Args): OverlayFileRequest {
  return {
    path: a['snapshot-file'],
    format: a.format ?? 'qcow2',
    size: old.length(),
    backingFile: nodeFilename(old),
    backingFormat: old.driver.name,
  };
}

function sameRequest(x: OverlayFileRequest, y: OverlayFileRequest): boolean {
  return (
    x.path === y.path && x.format === y.format && x.size === y.size &&
    x.backingFile === y.backingFile && x.backingFormat === y.backingFormat
  );
}

async function discardLater(p: Promise<OverlayFile>): Promise<void> {
  try {
    await (await p).discard();
  } catch {
    // creation failed: there is no file to remove
  }
}

function precreate(list: { data: QDict }[], ctx: ActionContext): void {
  const pool = new Map<QDict, Precreated>();
  const paths = new Set<string>();
  for (const { data } of list) {
    const a = data as unknown as Args;
    if (a.mode === 'existing' || paths.has(a['snapshot-file'])) continue;
    let request: OverlayFileRequest;
    let old: BlockNode;
    try {
      old = ctx.graph.lookup(a.device, a['node-name']);
      if (busyReason(old)) continue;
      checkNewName(ctx.graph, a);
      request = overlayRequest(old, a);
    } catch {
      continue; // the action's own prepare will report it, in order
    }
    paths.add(request.path);
    // flushing early (and concurrently) makes the flush in prepare find nothing left to do
    void old.flush().catch(() => {});
    const file = createOverlayFile(ctx.graph, request);
    file.catch(() => {}); // claimed (and reported) by prepare, or discarded below
    pool.set(data, { request, file });
  }
  ctx.shared.set(POOL, pool);
  ctx.finally.push(async () => {
    for (const p of pool.values()) await discardLater(p.file);
  });
}

function create(data: QDict, ctx: ActionContext) {
  const a = data as unknown as Args;
  const snap = new ExternalSnapshot(ctx.graph, ctx.log);
  const scope: OpenScope = { graph: ctx.graph, change: snap.change, opened: [] };
  let file: OverlayFile | undefined;

  const obtainFile = async (request: OverlayFileRequest): Promise<OverlayFile> => {
    const pool = ctx.shared.get(POOL) as Map<QDict, Precreated> | undefined;
    const pre = pool?.get(data);
    if (pre) {
      pool!.delete(data);
      if (sameRequest(pre.request, request)) return pre.file;
      await discardLater(pre.file);
    }
    return createOverlayFile(ctx.graph, request);
  };

  return {
    async prepare() {
      refuseGrouped(NAME, ctx.completionMode);
      const old = await snap.begin(a.device, a['node-name']);
      checkNewName(ctx.graph, a);
      const format = a.format ?? 'qcow2';
      let hostFiles: Map<string, { hostPath: string; opened?: OpenedHostFile }> | undefined;
      let opts: QDict;
      if (a.mode !== 'existing') {
        file = await obtainFile(overlayRequest(old, a));
        // a read-write overlay takes over the file as created; a read-only one opens it anew
        hostFiles = new Map([[file.path, { hostPath: file.hostPath, opened: old.readOnly ? undefined : file.takeOpened() }]]);
        opts = newDict();
        opts.driver = format;
        if (a['snapshot-node-name'] !== undefined) opts['node-name'] = a['snapshot-node-name'];
        const fileOpts = newDict();
        fileOpts.driver = 'file';
        fileOpts.filename = file.path;
        opts.file = fileOpts;
        opts.backing = null;
      } else {
        // QEMU opens an existing overlay by its name as a string
        opts = existingOverlayOptions(format, a['snapshot-file'], a['snapshot-node-name']);
      }
      // the overlay is opened with the old node's flags (read-only, cache mode)
      snap.append(await openNode({ ...scope, hostFiles }, opts, { readOnly: old.readOnly, cache: old.cache }));
    },
    async commit() {
      await file?.keep();
      if (file?.replacesExisting) snap.overlay?.file?.child.instance.hostPathChanged?.(file.path);
      snap.commit();
      // Unlike QEMU, an overlay that nothing uses stays, owned by the monitor.
      const overlay = snap.overlay!;
      if (overlay.parents.length === 0) overlay.monitorOwned = true;
    },
    async abort() {
      snap.abort();
      for (const n of scope.opened.reverse()) n.monitorOwned = false;
      await closeUnused(ctx.graph, scope.opened);
      await file?.discard();
    },
    async clean() {
      await snap.clean();
    },
  };
}

registerAction({ name: NAME, create, precreate });
