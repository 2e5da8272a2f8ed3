/**
 * The HTTP listener: a fastify app (QMP routes, read-only routes, the guard)
 * plus WebSocket upgrades on the same server. Listens on TCP or on a unix
 * socket; refuses to start beyond loopback without a token.
 */
import { unlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { errorReply } from '../qmp/dispatch.js';
import { QmpError } from '../qmp/error.js';
import { RequestGuard } from './auth.js';
import {
  type ApiDaemon,
  checkExposure,
  DEFAULT_HTTP_LIMITS,
  describeHttpAddress,
  type HttpLimits,
  type HttpSettings,
} from './http-config.js';
import { installGuard } from './http-guard.js';
import { registerInfoRoutes } from './http-info.js';
import { registerQmpRoutes, sendQmp } from './http-qmp.js';
import { WsGateway } from './ws.js';

/** Request logs never carry credentials, even at trace level. */
export const REDACTED_HEADERS = ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'req.headers.cookie'];

export class HttpServer {
  readonly app: FastifyInstance;
  private readonly gateway: WsGateway;
  private readonly limits: HttpLimits;
  private readonly log: Logger;

  constructor(
    daemon: ApiDaemon,
    private readonly settings: HttpSettings,
  ) {
    checkExposure(settings.address, settings.token);
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...settings.limits };
    this.log = daemon.log.child({ component: 'http' }, { redact: REDACTED_HEADERS });
    const guard = new RequestGuard({
      token: settings.token,
      allowedOrigins: settings.allowedOrigins,
      checkHost: settings.address.kind === 'tcp' && settings.token === undefined,
    });
    this.app = Fastify({
      // pino's Logger is fastify's logger; the two packages' typings differ only in generics.
      loggerInstance: this.log as FastifyBaseLogger,
      bodyLimit: this.limits.bodyLimit,
      forceCloseConnections: true,
      return503OnClosing: true,
    });
    this.app.setErrorHandler((err: FastifyError, request, reply) => {
      const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
      if (status >= 500) request.log.error({ err }, 'HTTP request failed');
      return sendQmp(reply, status, errorReply(QmpError.generic(status >= 500 ? 'internal error' : err.message)));
    });
    this.app.setNotFoundHandler((request, reply) =>
      sendQmp(reply, 404, errorReply(QmpError.generic(`no route for ${request.method} ${request.url.split('?')[0]}`))),
    );
    installGuard(this.app, guard);
    registerInfoRoutes(this.app, daemon, guard.tokenRequired);
    registerQmpRoutes(this.app, daemon, this.limits.bodyLimit);
    this.gateway = new WsGateway(daemon, guard, this.limits, this.log);
    this.app.server.on('upgrade', (req, socket, head: Buffer) => this.gateway.handleUpgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    const a = this.settings.address;
    if (a.kind === 'unix') {
      removeStaleSocket(a.path);
      await this.app.listen({ path: a.path });
    } else {
      await this.app.listen({ host: a.host, port: a.port });
    }
    this.log.info({ address: this.url }, 'HTTP listening');
  }

  get port(): number | undefined {
    const bound = this.app.server.address();
    return bound !== null && typeof bound === 'object' ? (bound as AddressInfo).port : undefined;
  }

  /** http://host:port/ for TCP, unix:PATH for a unix socket. */
  get url(): string {
    const a = this.settings.address;
    return a.kind === 'unix' ? describeHttpAddress(a) : `${describeHttpAddress(a, this.port)}/`;
  }

  async close(): Promise<void> {
    await this.gateway.close();
    await this.app.close();
    if (this.settings.address.kind === 'unix') removeStaleSocket(this.settings.address.path);
  }
}

/** As for QMP sockets: whatever is at the path is removed before binding and after closing. */
function removeStaleSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
