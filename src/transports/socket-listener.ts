/**
 * A listening unix or TCP socket whose connections are QMP monitors. Unlike a
 * QEMU socket chardev, which greets one client at a time, every connection is
 * served at once, each with its own session.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { attachStreamSession, type StreamSessionOptions } from './stream.js';
import type { QmpSession } from '../qmp/session.js';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export class MonitorListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private sessionCount = 0;

  constructor(
    readonly id: string,
    readonly address: ListenAddress,
    private readonly sessionOptions: (monitorId: string) => StreamSessionOptions,
    private readonly log: Logger,
    private readonly onSession?: (s: QmpSession) => void,
    /** Connections are greeted only once this resolves (startup options all applied, as QSD). */
    private readonly ready: Promise<void> = Promise.resolve(),
  ) {}

  /** Where it listens, with the real port for port 0. */
  describe(): string {
    const a = this.address;
    if (a.kind === 'unix') return `unix:${a.path}`;
    const bound = this.server?.address();
    const port = bound && typeof bound === 'object' ? bound.port : a.port;
    return `tcp:${a.host}:${port}`;
  }

  get port(): number | undefined {
    const bound = this.server?.address();
    return bound && typeof bound === 'object' ? bound.port : undefined;
  }

  async listen(): Promise<void> {
    // allowHalfOpen: a client that has sent everything (socat at EOF) still gets every reply
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server = server;
    if (this.address.kind === 'unix') removeStaleSocket(this.address.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const a = this.address;
      if (a.kind === 'unix') server.listen(a.path, () => resolve());
      else server.listen(a.port, a.host, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err, monitor: this.id }, 'monitor socket error'));
    this.log.info({ monitor: this.id, address: this.describe() }, 'QMP monitor listening');
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.pause();
    void this.ready.then(() => {
      if (!socket.destroyed) this.startSession(socket);
    });
  }

  private startSession(socket: Socket): void {
    socket.resume();
    const monitorId = `${this.id}#${++this.sessionCount}`;
    const session = attachStreamSession(socket, this.sessionOptions(monitorId), this.log);
    this.onSession?.(session);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // flush what is queued (the quit reply), then drop the connection
    for (const s of this.sockets) s.destroySoon();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A peer that does not read its last replies must not hold shutdown up.
    const timer = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 500);
    await closed;
    clearTimeout(timer);
    if (this.address.kind === 'unix') removeStaleSocket(this.address.path);
  }
}

/** QEMU unlinks whatever is at a unix socket path before binding; so do we. */
function removeStaleSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
