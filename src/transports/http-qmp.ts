/**
 * QMP over plain HTTP: POST /api/v1/qmp takes one command object and answers
 * its QMP reply; POST /api/v1/commands/{name} takes the arguments object (the
 * REST form). Bodies go through our own QMP JSON parser, so big integers and
 * QEMU's JSON rules are the same as on every other transport. Each request is
 * a one-shot monitor already past negotiation.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorReply, type DispatchState, type Reply } from '../qmp/dispatch.js';
import { protocolErrors, QmpError } from '../qmp/error.js';
import { encodeJson } from '../qmp/json/encode.js';
import { JsonStreamer } from '../qmp/json/streamer.js';
import { isDict, newDict, type QDict, type QValue } from '../qmp/json/value.js';
import type { CommandContext } from '../qmp/registry.js';
import type { ApiDaemon } from './http-config.js';

export const QMP_ROUTE = '/api/v1/qmp';
export const COMMAND_ROUTE_PREFIX = '/api/v1/commands/';
export const JSON_TYPE = 'application/json; charset=utf-8';

const STATE: DispatchState = { negotiating: false, oob: false };
const ENVELOPE_KEYS = new Set(['execute', 'arguments', 'id']);

/** A request body as our parser saw it. */
export type ParsedBody = { kind: 'empty' } | { kind: 'value'; value: QValue } | { kind: 'error'; error: QmpError };

export function parseBody(bytes: Buffer): ParsedBody {
  const messages: (QValue | QmpError)[] = [];
  const streamer = new JsonStreamer((m) => messages.push(m));
  streamer.feed(bytes);
  streamer.end();
  if (messages.length === 0) return { kind: 'empty' };
  const first = messages[0]!;
  if (first instanceof QmpError) return { kind: 'error', error: first };
  if (messages.length > 1) return { kind: 'error', error: QmpError.generic('HTTP request body must hold exactly one JSON value') };
  return { kind: 'value', value: first };
}

/** The exact complement of dispatch's envelope checks: false means dispatch would refuse it unrun. */
function isCommandObject(v: QValue): v is QDict {
  if (!isDict(v) || typeof v.execute !== 'string') return false;
  if (v.arguments !== undefined && !isDict(v.arguments)) return false;
  for (const key of Object.keys(v)) if (!ENVELOPE_KEYS.has(key)) return false;
  return true;
}

export function sendQmp(reply: FastifyReply, status: number, body: Reply): FastifyReply {
  return reply.code(status).type(JSON_TYPE).send(encodeJson(body));
}

export function registerQmpRoutes(app: FastifyInstance, daemon: ApiDaemon, bodyLimit: number): void {
  // Only JSON is accepted: a browser's cross-site "simple" POST (text/plain, forms) gets 415 unrun.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => {
    done(null, parseBody(body as Buffer));
  });

  const options = daemon.sessionOptions('http');
  const ctx: CommandContext = {
    monitorId: 'http',
    log: options.log,
    requestShutdown: options.onShutdownRequest,
    negotiate: () => {
      throw protocolErrors.negotiationComplete();
    },
  };

  // Commands wait, as on QMP sockets, until every startup option has been applied.
  app.post(QMP_ROUTE, async (request, reply) => {
    await daemon.whenStarted();
    const body = request.body as ParsedBody | undefined;
    if (body === undefined || body.kind === 'empty') {
      return sendQmp(reply, 400, errorReply(QmpError.generic('HTTP request body is empty: expected one command object')));
    }
    if (body.kind === 'error') return sendQmp(reply, 400, errorReply(body.error));
    // Not a command object: dispatch words the error exactly as QMP does, and runs nothing.
    const status = isCommandObject(body.value) ? 200 : 400;
    return sendQmp(reply, status, await daemon.dispatcher.dispatch(body.value, STATE, ctx));
  });

  app.post<{ Params: { name: string } }>(`${COMMAND_ROUTE_PREFIX}:name`, async (request, reply) => {
    await daemon.whenStarted();
    const name = request.params.name;
    if (daemon.registry.get(name) === undefined) return sendQmp(reply, 404, errorReply(protocolErrors.commandNotFound(name)));
    const body = request.body as ParsedBody | undefined;
    let args: QDict = newDict();
    if (body !== undefined && body.kind === 'error') return sendQmp(reply, 400, errorReply(body.error));
    if (body !== undefined && body.kind === 'value') {
      if (!isDict(body.value)) return sendQmp(reply, 400, errorReply(protocolErrors.argumentsMustBeObject()));
      args = body.value;
    }
    const message = newDict();
    message.execute = name;
    message.arguments = args;
    return sendQmp(reply, 200, await daemon.dispatcher.dispatch(message, STATE, ctx));
  });
}
