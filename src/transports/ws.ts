/**
 * WebSocket upgrades on the HTTP server: GET /qmp becomes a QMP monitor (no
 * subprotocol, or `qmp`) or a JSON-RPC 2.0 connection (`jsonrpc`). Every
 * refusal goes through abortHandshake before ws sees the request; the token
 * may ride along as an extra subprotocol `qmpd.token.<token>`, which is never
 * echoed back.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { offeredProtocols, type RequestGuard, TOKEN_PROTOCOL_PREFIX } from './auth.js';
import type { ApiDaemon, HttpLimits } from './http-config.js';
import { JsonRpcConnection } from './jsonrpc.js';
import { CloseCode, WsFlow } from './ws-flow.js';
import { attachWsQmpSession } from './ws-qmp.js';

export const WS_PATH = '/qmp';
export const QMP_PROTOCOL = 'qmp';
export const JSONRPC_PROTOCOL = 'jsonrpc';
/** After a close frame, how long a peer may take to answer before its socket is destroyed. */
export const WS_CLOSE_GRACE_MS = 1000;

type Dialect = typeof QMP_PROTOCOL | typeof JSONRPC_PROTOCOL;

/** The dialect asked for; undefined when only unknown subprotocols were offered. */
export function chooseDialect(protocols: readonly string[]): Dialect | undefined {
  const named = protocols.filter((p) => !p.startsWith(TOKEN_PROTOCOL_PREFIX));
  if (named.length === 0) return QMP_PROTOCOL;
  return named.find((p): p is Dialect => p === QMP_PROTOCOL || p === JSONRPC_PROTOCOL);
}

/** Answers an upgrade request with a plain HTTP error and drops the connection. */
export function abortHandshake(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (socket.writable) {
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      'Connection: close',
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(message)}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.end(lines.join('\r\n') + '\r\n\r\n' + message);
  }
  socket.destroy();
}

export class WsGateway {
  private readonly wss: WebSocketServer;
  private count = 0;

  constructor(
    private readonly daemon: ApiDaemon,
    private readonly guard: RequestGuard,
    private readonly limits: HttpLimits,
    private readonly log: Logger,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.wsMaxMessageBytes,
      perMessageDeflate: false,
      handleProtocols: (protocols) => {
        const d = chooseDialect([...protocols]);
        return d !== undefined && protocols.has(d) ? d : false;
      },
    });
  }

  /** The HTTP server's 'upgrade' listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.log.debug({ err }, 'upgrade socket error'));
    const path = (req.url ?? '').split('?')[0];
    const who = { url: path, remoteAddress: req.socket.remoteAddress };
    if (path !== WS_PATH) return this.refuse(socket, 404, 'no WebSocket endpoint here; use /qmp', who);
    const protocols = offeredProtocols(req.headers['sec-websocket-protocol']);
    const verdict = this.guard.check(req.headers, protocols);
    if (verdict) {
      const extra: Record<string, string> = verdict.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
      return this.refuse(socket, verdict.status, verdict.message, who, extra);
    }
    const dialect = chooseDialect(protocols);
    if (dialect === undefined) {
      return this.refuse(socket, 400, `unsupported subprotocol: offer '${QMP_PROTOCOL}' or '${JSONRPC_PROTOCOL}'`, who);
    }
    // As on QMP sockets, nobody is greeted before every startup option has been applied.
    void this.daemon.whenStarted().then(() =>
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.log.info({ ...who, dialect }, 'websocket connected');
        this.attach(ws, socket, dialect);
      }),
    );
  }

  private refuse(socket: Duplex, status: number, message: string, who: object, headers?: Record<string, string>): void {
    this.log.info({ ...who, status, reason: message }, 'websocket upgrade refused');
    abortHandshake(socket, status, message, headers);
  }

  private attach(ws: WebSocket, socket: Duplex, dialect: Dialect): void {
    const flow = new WsFlow(ws, socket, this.limits);
    // ws parses every frame of a TCP chunk synchronously in its own 'data' listener: corking
    // around it sends the replies to a pipelined burst in one write instead of one per frame
    // (pipelined throughput 0.44x → 0.78x of the unix socket's, scripts/bench/ws.mjs).
    socket.prependListener('data', () => flow.beginBurst());
    socket.on('data', () => flow.endBurst());
    const id = `${dialect === QMP_PROTOCOL ? 'ws' : 'jsonrpc'}#${++this.count}`;
    const closed = this.daemon.metrics.monitorOpened(dialect === QMP_PROTOCOL ? 'ws' : 'ws-jsonrpc');
    ws.on('close', closed);
    if (dialect === QMP_PROTOCOL) {
      attachWsQmpSession(ws, flow, this.daemon.sessionOptions(id), this.log);
      return;
    }
    const conn = new JsonRpcConnection({
      dispatcher: this.daemon.dispatcher,
      registry: this.daemon.registry,
      events: this.daemon.events,
      monitorId: id,
      log: this.daemon.log.child({ monitor: id }),
      send: (text) => flow.send(text),
      pause: () => flow.pauseInput(),
      resume: () => flow.resumeInput(),
      onShutdownRequest: () => setImmediate(() => void this.daemon.shutdown()),
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) ws.close(CloseCode.UnsupportedData, 'binary frames are not supported: send JSON-RPC in text frames');
      else conn.feedMessage(data as Buffer);
    });
    ws.on('close', () => conn.close());
    ws.on('error', (err) => this.log.debug({ err }, 'websocket error'));
    conn.start();
  }

  /** Says goodbye (1001) to every client, then drops those that do not answer. */
  async close(): Promise<void> {
    const clients = [...this.wss.clients];
    for (const ws of clients) ws.close(CloseCode.GoingAway, 'daemon shutting down');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const ws of clients) ws.terminate();
        resolve();
      }, WS_CLOSE_GRACE_MS);
      const check = () => {
        if (clients.every((ws) => ws.readyState === ws.CLOSED)) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const ws of clients) ws.once('close', check);
      check();
    });
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
