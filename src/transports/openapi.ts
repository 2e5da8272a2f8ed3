/**
 * GET /api/v1/openapi.json: an OpenAPI 3.1 document of the HTTP side,
 * generated from the same JSON Schemas that validate QMP arguments. OpenAPI
 * 3.1 schemas are JSON Schema 2020-12, so the generated schemas go in as they
 * are; only their $refs are moved to #/components/schemas.
 */
import { type CommandSchemas, type JsonObject, rewriteRefs } from './http-schema.js';
import { COMMAND_ROUTE_PREFIX, QMP_ROUTE } from './http-qmp.js';
import { JSONRPC_PROTOCOL, QMP_PROTOCOL, WS_PATH } from './ws.js';

export interface OpenApiInput {
  schemas: CommandSchemas;
  /** Command names in schema order, with their QAPI features. */
  commands: readonly { name: string; features: readonly string[] }[];
  version: string;
  tokenRequired: boolean;
}

const COMPONENTS = '#/components/schemas/';

/** '#/$defs/X' and '../qapi.schema.json#/$defs/X' → '#/components/schemas/X'. */
function toComponentRef(ref: string): string {
  const at = ref.indexOf('#/$defs/');
  return at < 0 ? ref : COMPONENTS + ref.slice(at + '#/$defs/'.length);
}

const ref = (name: string) => ({ $ref: COMPONENTS + name });
const json = (schema: unknown) => ({ 'application/json': { schema } });

const ENVELOPE_SCHEMAS: JsonObject = {
  QmpErrorBody: {
    type: 'object',
    required: ['class', 'desc'],
    properties: { class: { type: 'string' }, desc: { type: 'string' } },
  },
  QmpReturn: { type: 'object', required: ['return'], properties: { return: {}, id: {} } },
  QmpError: { type: 'object', required: ['error'], properties: { error: ref('QmpErrorBody'), id: {} } },
  QmpReply: { oneOf: [ref('QmpReturn'), ref('QmpError')] },
  QmpCommand: {
    type: 'object',
    required: ['execute'],
    properties: { execute: { type: 'string' }, arguments: { type: 'object' }, id: {} },
    additionalProperties: false,
  },
};

const errorResponses = {
  '400': { description: 'The body is not JSON, or not a command object', content: json(ref('QmpError')) },
  '401': { description: 'Missing or wrong bearer token', content: json(ref('QmpError')) },
  '403': { description: 'Origin or Host not allowed', content: json(ref('QmpError')) },
  '413': { description: 'Body over the size limit', content: json(ref('QmpError')) },
  '415': { description: 'Content-Type is not application/json', content: json(ref('QmpError')) },
};

function commandPath(name: string, features: readonly string[], argSchema: JsonObject): JsonObject {
  const op: JsonObject = {
    operationId: name,
    summary: `Run the QMP command ${name}`,
    tags: ['commands'],
    requestBody: { required: false, description: 'The arguments object (empty body: no arguments)', content: json(argSchema) },
    responses: {
      '200': { description: 'The QMP reply: {"return": ...} or {"error": {"class", "desc"}}', content: json(ref('QmpReply')) },
      '404': { description: 'No such command', content: json(ref('QmpError')) },
      ...errorResponses,
    },
  };
  if (features.includes('deprecated')) op.deprecated = true;
  if (features.length > 0) op['x-qapi-features'] = [...features];
  return { post: op };
}

export function buildOpenApi(input: OpenApiInput): JsonObject {
  const defs = (input.schemas.definitions.$defs ?? {}) as JsonObject;
  const paths: JsonObject = {
    [QMP_ROUTE]: {
      post: {
        operationId: 'qmp',
        summary: 'Run one QMP command object; QMP errors come back with status 200',
        tags: ['qmp'],
        requestBody: { required: true, content: json(ref('QmpCommand')) },
        responses: { '200': { description: 'The QMP reply', content: json(ref('QmpReply')) }, ...errorResponses },
      },
    },
    [WS_PATH]: {
      get: {
        operationId: 'websocket',
        summary: `WebSocket upgrade. Subprotocol '${QMP_PROTOCOL}' (or none): a QMP monitor, one JSON message per text frame. '${JSONRPC_PROTOCOL}': JSON-RPC 2.0, events as {"method": "event"} notifications. A token may be sent as an extra subprotocol qmpd.token.<token>.`,
        tags: ['qmp'],
        responses: {
          '101': { description: 'Switching protocols' },
          '401': { description: 'Missing or wrong token' },
          '403': { description: 'Origin or Host not allowed' },
          '426': { description: 'Not a WebSocket upgrade request' },
        },
      },
    },
    '/healthz': { get: { operationId: 'healthz', tags: ['ops'], responses: { '200': { description: 'The daemon is up' } } } },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['ops'],
        responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/api/v1/schema': {
      get: {
        operationId: 'schema',
        tags: ['schema'],
        responses: { '200': { description: 'query-qmp-schema data and the JSON Schema of every command', content: json({ type: 'object' }) } },
      },
    },
    '/api/v1/openapi.json': {
      get: { operationId: 'openapi', tags: ['schema'], responses: { '200': { description: 'This document', content: json({ type: 'object' }) } } },
    },
  };
  for (const { name, features } of input.commands) {
    const schema = input.schemas.commands.get(name);
    if (schema === undefined) continue;
    paths[COMMAND_ROUTE_PREFIX + encodeURIComponent(name)] = commandPath(name, features, rewriteRefs(schema, toComponentRef) as JsonObject);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'qmpd HTTP API',
      version: input.version,
      description: 'QMP (QEMU Machine Protocol) commands over HTTP and WebSocket, as on the QMP socket.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: { ...(rewriteRefs(defs, toComponentRef, false) as JsonObject), ...ENVELOPE_SCHEMAS },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: input.tokenRequired ? [{ bearer: [] }] : [{}],
  };
}
