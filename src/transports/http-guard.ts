/**
 * The onRequest hook of every HTTP route: Host, Origin and token checks (the
 * same RequestGuard as WebSocket upgrades), and CORS only for origins given
 * with --http-allow-origin. A refused request never reaches a handler, so no
 * command runs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorReply } from '../qmp/dispatch.js';
import { QmpError } from '../qmp/error.js';
import type { RequestGuard } from './auth.js';
import { sendQmp } from './http-qmp.js';

/** Routes a probe may read without the token: they reveal nothing. */
export const TOKEN_EXEMPT_ROUTES = new Set(['/healthz']);
/** How long a browser may cache a preflight answer, in seconds. */
export const CORS_MAX_AGE = 600;

function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
}

export function installGuard(app: FastifyInstance, guard: RequestGuard): void {
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const origin = request.headers.origin;
    const cors = guard.isAllowedCrossOrigin(origin);
    const path = request.url.split('?')[0]!;
    const exempt = TOKEN_EXEMPT_ROUTES.has(path) || (cors && isPreflight(request));
    const verdict = guard.check(request.headers, undefined, exempt);
    if (verdict) {
      if (verdict.status === 401) reply.header('WWW-Authenticate', 'Bearer');
      sendQmp(reply, verdict.status, errorReply(QmpError.generic(verdict.message)));
      return;
    }
    if (cors) {
      reply.header('Access-Control-Allow-Origin', origin!);
      reply.header('Vary', 'Origin');
    }
    done();
  });

  // Answers preflights for allowed origins; anyone else gets no CORS headers and 404.
  app.options('*', (request, reply) => {
    if (!guard.isAllowedCrossOrigin(request.headers.origin) || !isPreflight(request)) {
      return sendQmp(reply, 404, errorReply(QmpError.generic('no such resource')));
    }
    return reply
      .code(204)
      .header('Access-Control-Allow-Methods', 'GET, POST')
      .header('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      .header('Access-Control-Max-Age', String(CORS_MAX_AGE))
      .send();
  });
}
