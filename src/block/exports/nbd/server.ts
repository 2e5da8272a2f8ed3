/**
 * NbdServer: a unix or TCP listener, its export table and its connections.
 * The graph layer adds an export per block-export-add and removes it with
 * block-export-del's modes:
 *  - 'safe' refuses while any client is attached to the export (QEMU:
 *    "export 'ID' still in use"; the caller owns the id and the text);
 *  - 'hard' drops those clients at once. Either way the export disappears for
 *    new clients immediately, and `closed` resolves once every connection on
 *    it is gone with its requests settled (when QEMU emits
 *    BLOCK_EXPORT_DELETED).
 * Like QEMU, a full server (max-connections) does not accept more clients:
 * they wait without a greeting until a slot frees up.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { silentLogger } from '../../../log.js';
import type { NbdExportBackend } from './backend.js';
import { NbdConnection, type ConnectionHost } from './connection.js';
import { DEFAULT_MAX_CONNECTIONS, HANDSHAKE_MAX_SECONDS, MAX_WAITING_CONNECTIONS } from './constants.js';
import { ExportTable } from './export-table.js';

/** A unix address may be abstract (Linux): no file, the name padded by nothing (QEMU's tight=on). */
export type NbdListenAddress =
  | { kind: 'unix'; path: string; abstract?: boolean }
  | { kind: 'tcp'; host: string; port: number };

export interface NbdServerOptions {
  address: NbdListenAddress;
  /** Connections at once, handshaking ones included; 0 = unlimited. Default 100 (this QEMU build). */
  maxConnections?: number;
  /** Time a client has to finish the handshake; 0 = unlimited. Default 10 s, as QEMU. */
  handshakeTimeoutMs?: number;
  log?: Logger;
}

export type NbdRemoveMode = 'safe' | 'hard';

export type NbdRemoveResult =
  /** Gone for new clients; `closed` resolves when its last connection has closed and settled. */
  | { removed: true; droppedConnections: number; closed: Promise<void> }
  /** 'safe' and clients are attached: nothing changed. */
  | { removed: false; connections: number };

export class NbdServer implements ConnectionHost {
  readonly table = new ExportTable();
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  private readonly log: Logger;
  private readonly active = new Set<NbdConnection>();
  /** Accepted sockets waiting for a free slot, with the listener that forgets them if they close. */
  private readonly waiting = new Map<Socket, () => void>();
  private closing = false;
  private connectionSeq = 0;
  private allClosedWaiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly listenAddress: NbdListenAddress,
    opts: NbdServerOptions,
  ) {
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_MAX_SECONDS * 1000;
    this.log = opts.log ?? silentLogger();
  }

  /** Listens; a stale unix socket file is replaced, as QEMU does. Rejects with the listen error. */
  static async start(opts: NbdServerOptions): Promise<NbdServer> {
    // allowHalfOpen: a client's EOF must not end our side before in-flight replies are out.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const nbd = new NbdServer(server, opts.address, opts);
    server.on('connection', (s) => nbd.accept(s));
    const a = opts.address;
    if (a.kind === 'unix' && !a.abstract) removeSocketFile(a.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      // node names an abstract socket by a leading NUL
      if (a.kind === 'unix') server.listen(a.abstract ? `\0${a.path}` : a.path, done);
      else server.listen(a.port, a.host, done);
    });
    server.on('error', (err) => nbd.log.error({ err }, 'NBD server socket error'));
    return nbd;
  }

  /** The bound address; for TCP the real port (port 0 asks the kernel for one). */
  get address(): NbdListenAddress {
    const a = this.listenAddress;
    if (a.kind === 'unix') return a;
    const bound = this.server.address();
    return { kind: 'tcp', host: a.host, port: bound && typeof bound === 'object' ? bound.port : a.port };
  }

  /** Offers an export; throws QmpError with QEMU's text for a duplicate or over-long name. */
  addExport(backend: NbdExportBackend): void {
    // QEMU stops advertising multi-conn when only one client can connect.
    this.table.add(backend, this.maxConnections !== 1);
  }

  hasExport(name: string): boolean {
    return this.table.get(name) !== undefined;
  }

  exportNames(): string[] {
    return [...this.table.all()].map((e) => e.backend.name);
  }

  /** Removes an export; undefined when there is none by that name. */
  removeExport(name: string, mode: NbdRemoveMode): NbdRemoveResult | undefined {
    const entry = this.table.get(name);
    if (!entry) return undefined;
    const attached = entry.clients.size;
    if (mode === 'safe' && attached > 0) return { removed: false, connections: attached };
    this.table.delete(entry);
    for (const c of [...entry.clients]) c.destroy();
    return { removed: true, droppedConnections: attached, closed: entry.idle() };
  }

  /** Connections in transmission on `name`, or all connections (handshaking ones too) without a name. */
  connectionCount(name?: string): number {
    if (name === undefined) return this.active.size;
    return this.table.get(name)?.clients.size ?? 0;
  }

  /** Drops every connection and stops listening; resolves when all requests have settled. */
  async close(): Promise<void> {
    if (this.closing) return this.allClosed();
    this.closing = true;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of [...this.waiting.keys()]) s.destroy();
    this.waiting.clear();
    for (const c of [...this.active]) c.destroy();
    await Promise.all([listenerClosed, this.allClosed()]);
    for (const entry of [...this.table.all()]) this.table.delete(entry);
    const a = this.listenAddress;
    if (a.kind === 'unix' && !a.abstract) removeSocketFile(a.path);
  }

  private allClosed(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.allClosedWaiters.push(resolve));
  }

  private accept(socket: Socket): void {
    if (this.closing) return void socket.destroy();
    if (this.maxConnections > 0 && this.active.size >= this.maxConnections) {
      if (this.waiting.size >= MAX_WAITING_CONNECTIONS) return void socket.destroy();
      const forget = (): void => void this.waiting.delete(socket);
      socket.on('error', forget);
      socket.once('close', forget);
      this.waiting.set(socket, forget);
      return;
    }
    this.startConnection(socket);
  }

  private startConnection(socket: Socket): void {
    if (this.listenAddress.kind === 'tcp') socket.setNoDelay(true);
    const id = ++this.connectionSeq;
    const conn = new NbdConnection(socket, this, this.log.child({ nbdConnection: id }));
    this.active.add(conn);
    conn.start();
    socket.resume();
  }

  connectionClosed(conn: NbdConnection): void {
    this.active.delete(conn);
    for (const [next, forget] of this.waiting) {
      if (this.closing || (this.maxConnections > 0 && this.active.size >= this.maxConnections)) break;
      this.waiting.delete(next);
      next.off('error', forget);
      next.off('close', forget);
      if (!next.destroyed) this.startConnection(next);
    }
    if (this.active.size === 0) {
      const waiters = this.allClosedWaiters;
      this.allClosedWaiters = [];
      for (const w of waiters) w();
    }
  }
}

function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
