/**
 * Block exports (block-export-add and friends): each export is an anonymous
 * BlockBackend on its node plus a protocol server entry. Checks and texts
 * follow QEMU 7.2's blk_exp_add() and nbd_export_create().
 */
import type { Logger } from 'pino';
import { QmpError } from '../../qmp/error.js';
import { describeErrno } from '../../util/errno.js';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EventBus } from '../../qmp/events.js';
import { BlockBackend } from '../backend.js';
import { CHECK_ALLOW_RO, checkBitmap, lookupBitmap, type BitmapRef } from '../bitmap-ops.js';
import type { DirtyBitmap } from '../bitmap.js';
import { GraphChange } from '../graph-change.js';
import { isWellFormedId, type BlockGraph } from '../graph.js';
import { closeUnused } from '../lifecycle.js';
import type { BlockNode } from '../node.js';
import { refreshPerms } from '../perm-refresh.js';
import { PERM_ALL, PERM_CONSISTENT_READ, PERM_RESIZE, PERM_WRITE } from '../permissions.js';
import { checkListenPath } from './address.js';
import { GraphNbdBackend } from './nbd-backend.js';
import { NbdServer, type NbdListenAddress } from './nbd/index.js';

/** NBD_MAX_STRING_SIZE: export names and descriptions. */
const NBD_MAX_STRING = 4096;

export interface ExportOptions {
  type: string;
  id: string;
  'node-name': string;
  writable?: boolean;
  writethrough?: boolean;
  iothread?: string;
  'fixed-iothread'?: boolean;
  name?: string;
  description?: string;
  bitmaps?: BitmapRef[];
  'allocation-depth'?: boolean;
}

export class BlockExport {
  shuttingDown = false;
  constructor(
    readonly id: string,
    readonly type: 'nbd',
    readonly backend: BlockBackend,
    readonly nbdName: string,
    readonly bitmaps: readonly DirtyBitmap[],
  ) {}

  get nodeName(): string {
    return this.backend.node?.nodeName ?? '';
  }
}

export interface ExportMetrics {
  bytes(exportId: string, op: 'read' | 'write', bytes: number): void;
  removed(exportId: string): void;
}

export class ExportManager {
  private nbd: NbdServer | undefined;
  /** In creation order; query-block-exports lists newest first. */
  private readonly exports = new Map<string, BlockExport>();
  /** Ids of the iothread objects given with --object, which block-export-add may name. */
  private readonly iothreads = new Set<string>();

  constructor(
    private readonly graph: BlockGraph,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly metrics?: ExportMetrics,
  ) {}

  get nbdServer(): NbdServer | undefined {
    return this.nbd;
  }

  registerIothread(id: string): void {
    this.iothreads.add(id);
  }

  list(): BlockExport[] {
    return [...this.exports.values()].reverse();
  }

  /**
   * nbd-server-start. The address is resolved only after the "already running"
   * check, as QEMU looks at it only when it opens the listener.
   */
  async startNbd(resolveAddress: () => NbdListenAddress, maxConnections: number | undefined, tlsCreds?: string): Promise<void> {
    if (this.nbd) throw QmpError.generic('NBD server already running');
    const address = resolveAddress();
    checkListenPath(address);
    let server: NbdServer;
    try {
      server = await NbdServer.start({ address, maxConnections, log: this.log.child({ component: 'nbd' }) });
    } catch (err) {
      throw QmpError.generic(bindError(address, err), { cause: err });
    }
    // QEMU opens the listener before it looks the credentials up, so a bind error wins and a
    // stale socket file is gone either way (the failed server unlinks its own)
    if (tlsCreds !== undefined) {
      await server.close();
      throw QmpError.generic(`No TLS credentials with id '${tlsCreds}'`);
    }
    this.nbd = server;
  }

  /** nbd-server-stop: every NBD export goes (announced before the reply), then the listener. */
  async stopNbd(): Promise<void> {
    const server = this.nbd;
    if (!server) throw QmpError.generic('NBD server not running');
    // in creation order, as QEMU announces them
    for (const exp of [...this.exports.values()]) if (exp.type === 'nbd') await this.remove(exp, 'hard');
    this.nbd = undefined;
    await server.close();
  }

  add(o: ExportOptions): Promise<BlockExport> {
    return this.graph.mutex.run(async () => {
      if (!isWellFormedId(o.id)) throw QmpError.generic('Invalid block export id');
      if (this.exports.has(o.id)) throw QmpError.generic(`Block export id '${o.id}' is already in use`);
      if (o.type !== 'nbd') throw QmpError.generic(`Export type '${o.type}' is not supported by qmpd`);
      const node = this.graph.lookup(undefined, o['node-name']);
      const writable = o.writable ?? false;
      if (node.readOnly && writable) throw QmpError.generic('Cannot export read-only node as writable');
      // an iothread only has to exist: qmpd serves every export from its one event loop
      if (o.iothread !== undefined && !this.iothreads.has(o.iothread)) {
        throw QmpError.generic(`iothread "${o.iothread}" not found`);
      }
      // nbd_export_create(): server, name, description, bitmaps; then the backend is attached
      if (!this.nbd) throw QmpError.generic('NBD server not running');
      const name = o.name ?? o['node-name'];
      if (Buffer.byteLength(name) > NBD_MAX_STRING) throw QmpError.generic(`export name '${name}' too long`);
      if (o.description !== undefined && Buffer.byteLength(o.description) > NBD_MAX_STRING) {
        throw QmpError.generic(`description '${o.description}' too long`);
      }
      if (this.nbd.hasExport(name)) throw QmpError.generic(`NBD server already has export named '${name}'`);
      const bitmaps = (o.bitmaps ?? []).map((b) => findExportBitmap(this.graph, node, b, writable));

      // An export does not let anyone resize its node while it runs.
      const bb = new BlockBackend('', PERM_CONSISTENT_READ | (writable ? PERM_WRITE : 0), PERM_ALL & ~PERM_RESIZE);
      const change = new GraphChange();
      const edge = bb.attach(node);
      // blk_exp_add() attaches sharing everything and nbd_export_create() only then stops
      // sharing resize, so a conflict over write is reported before one over resize
      edge.shared = PERM_ALL;
      change.link(edge);
      try {
        refreshPerms(change, this.graph.locks, [node]);
        change.setPerms(edge, edge.perm, bb.shared);
        refreshPerms(change, this.graph.locks, [node]);
      } catch (err) {
        change.abort();
        throw err;
      }
      change.commit();
      const backend = new GraphNbdBackend(
        bb,
        { name, description: o.description, writable, writethrough: o.writethrough ?? false, allocationDepth: o['allocation-depth'] ?? false, bitmaps },
        this.metrics ? (op, n) => this.metrics!.bytes(o.id, op, n) : undefined,
      );
      this.nbd.addExport(backend);
      for (const b of bitmaps) b.busy = true;
      const exp = new BlockExport(o.id, 'nbd', bb, name, bitmaps);
      this.exports.set(o.id, exp);
      this.graph.anonymous.add(bb);
      return exp;
    });
  }

  find(id: string): BlockExport {
    const exp = this.exports.get(id);
    if (!exp) throw QmpError.generic(`Export '${id}' is not found`);
    return exp;
  }

  /**
   * block-export-del: 'safe' refuses while clients are attached; 'hard' drops them.
   * Resolves once the export is gone and BLOCK_EXPORT_DELETED was emitted.
   */
  async remove(exp: BlockExport, mode: 'safe' | 'hard'): Promise<void> {
    if (exp.shuttingDown) throw QmpError.generic(`Block export '${exp.id}' is already shutting down`);
    const result = this.nbd?.removeExport(exp.nbdName, mode);
    if (result && !result.removed) throw QmpError.generic(`export '${exp.id}' still in use`);
    exp.shuttingDown = true;
    // connections finish their in-flight requests; I/O never needs the graph mutex
    if (result?.removed) await result.closed;
    await this.graph.mutex.run(async () => {
      for (const b of exp.bitmaps) b.busy = false;
      const node = exp.backend.node;
      const change = new GraphChange();
      if (exp.backend.root) change.detach(exp.backend.root);
      change.commit();
      exp.backend.root = null;
      this.graph.anonymous.delete(exp.backend);
      this.exports.delete(exp.id);
      if (node) await closeUnused(this.graph, [node]);
    });
    this.metrics?.removed(exp.id);
    this.events.emit('BLOCK_EXPORT_DELETED', { id: exp.id });
  }

  /** Daemon shutdown (quit): every export goes, announced, then the server. */
  async shutdown(): Promise<void> {
    for (const exp of [...this.exports.values()]) {
      if (!exp.shuttingDown) await this.remove(exp, 'hard');
    }
    if (this.nbd) await this.nbd.close();
    this.nbd = undefined;
  }
}

/** QEMU's texts for a listen that fails (util/qemu-sockets.c). */
function bindError(address: NbdListenAddress, err: unknown): string {
  if (address.kind === 'unix') {
    // libuv reports a missing directory as EACCES; bind(2) said ENOENT
    const missingDir = !existsSync(dirname(resolve(address.path)));
    return `Failed to bind socket to ${address.path}: ${describeErrno(missingDir ? { code: 'ENOENT' } : err)}`;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `address resolution failed for ${address.host}:${address.port}: Name or service not known`;
  }
  return `Failed to find an available port: ${describeErrno(err)}`;
}

/**
 * An export's bitmap as nbd_export_create() finds it: a plain name is looked
 * for on the node and down its backing chain, and an enabled one is refused
 * for a read-only export of a writable node; {node, name} names any node's
 * bitmap and skips that check (QEMU only makes it for the plain form).
 */
function findExportBitmap(graph: BlockGraph, node: BlockNode, ref: BitmapRef, writable: boolean): DirtyBitmap {
  if (typeof ref !== 'string') {
    const { bitmap } = lookupBitmap(graph, ref.node, ref.name);
    checkBitmap(bitmap, CHECK_ALLOW_RO);
    return bitmap;
  }
  for (let n: BlockNode | undefined = node; n; n = n.backing?.child) {
    const b = n.bitmaps.find((x) => x.name === ref);
    if (!b) continue;
    if (!writable && !n.readOnly && b.recording) {
      throw QmpError.generic(`Enabled bitmap '${ref}' incompatible with readonly export`);
    }
    checkBitmap(b, CHECK_ALLOW_RO);
    return b;
  }
  throw QmpError.generic(`Bitmap '${ref}' is not found`);
}
