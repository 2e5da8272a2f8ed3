/**
 * The read-only routes: an index at /, /healthz, /metrics, the schema and
 * OpenAPI documents, and GET /qmp without an upgrade (426). The two schema
 * documents are built on first request and kept: the schema cannot change
 * while the daemon runs.
 */
import type { FastifyInstance } from 'fastify';
import { errorReply } from '../qmp/dispatch.js';
import { QmpError } from '../qmp/error.js';
import { QMPD_VERSION } from '../version.js';
import type { ApiDaemon } from './http-config.js';
import { JSON_TYPE, sendQmp } from './http-qmp.js';
import { loadCommandSchemas, schemaDocument, type CommandSchemas } from './http-schema.js';
import { buildOpenApi } from './openapi.js';
import { WS_PATH } from './ws.js';

export const SCHEMA_ROUTE = '/api/v1/schema';
export const OPENAPI_ROUTE = '/api/v1/openapi.json';

export function registerInfoRoutes(app: FastifyInstance, daemon: ApiDaemon, tokenRequired: boolean): void {
  let schemas: CommandSchemas | undefined;
  let schemaText: string | undefined;
  let openApiText: string | undefined;
  const loadSchemas = () => (schemas ??= loadCommandSchemas());

  app.get('/', (_request, reply) =>
    reply.type(JSON_TYPE).send(
      JSON.stringify({
        name: 'qmpd',
        version: QMPD_VERSION,
        endpoints: {
          websocket: WS_PATH,
          qmp: 'POST /api/v1/qmp',
          commands: 'POST /api/v1/commands/{name}',
          schema: SCHEMA_ROUTE,
          openapi: OPENAPI_ROUTE,
          health: '/healthz',
          metrics: '/metrics',
        },
      }),
    ),
  );

  app.get('/healthz', (_request, reply) => reply.type(JSON_TYPE).send('{"status":"ok"}'));

  app.get('/metrics', async (_request, reply) => reply.type(daemon.metrics.contentType).send(await daemon.metrics.render()));

  app.get(SCHEMA_ROUTE, (_request, reply) => {
    schemaText ??= JSON.stringify(schemaDocument(loadSchemas(), daemon.registry.schema.introspection()));
    return reply.type(JSON_TYPE).send(schemaText);
  });

  app.get(OPENAPI_ROUTE, (_request, reply) => {
    openApiText ??= JSON.stringify(
      buildOpenApi({
        schemas: loadSchemas(),
        commands: daemon.registry.names().map((name) => ({
          name,
          features: daemon.registry.get(name)?.info.features ?? [],
        })),
        version: QMPD_VERSION,
        tokenRequired,
      }),
    );
    return reply.type(JSON_TYPE).send(openApiText);
  });

  app.get(WS_PATH, (_request, reply) => {
    reply.header('Upgrade', 'websocket');
    return sendQmp(reply, 426, errorReply(QmpError.generic('this endpoint speaks WebSocket: send an Upgrade request')));
  });
}
