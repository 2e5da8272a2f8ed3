/**
 * The JSON-RPC 2.0 dialect over the same dispatcher as QMP. A request
 * `{"jsonrpc":"2.0","method":M,"params":{...},"id":I}` runs QMP command M with
 * arguments params; there is no greeting and no negotiation. Batches are
 * supported; requests run one at a time in arrival order, as QMP's in-band
 * commands do. Events arrive as notifications
 * `{"jsonrpc": "2.0", "method": "event", "params": <the QMP event object>}`.
 *
 * Error codes: -32700 parse error, -32600 invalid request, -32601 unknown
 * command (QMP CommandNotFound), -32602 arguments rejected by the schema,
 * -32000 any other QMP error. `error.message` is the QMP desc and
 * `error.data` is `{"class", "desc"}` as QMP would have sent it.
 */
import type { Logger } from 'pino';
import type { Dispatcher, DispatchState, Reply } from '../qmp/dispatch.js';
import { protocolErrors, QmpError } from '../qmp/error.js';
import type { EventBus, EventSubscriber } from '../qmp/events.js';
import { encodeJson, encodeString } from '../qmp/json/encode.js';
import { JsonStreamer } from '../qmp/json/streamer.js';
import { isDict, newDict, type QDict, type QValue } from '../qmp/json/value.js';
import type { CommandContext, CommandRegistry } from '../qmp/registry.js';

export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  ServerError: -32000,
} as const;

/** Requests (a batch counts as one) waiting to run before we stop reading input. */
export const MAX_QUEUED_JOBS = 64;
/** Members of one batch: bounds the work and the reply size of a single message. */
export const MAX_BATCH_SIZE = 256;

export const EVENT_METHOD = 'event';

const STATE: DispatchState = { negotiating: false, oob: false };

export interface JsonRpcOptions {
  dispatcher: Dispatcher;
  registry: CommandRegistry;
  events: EventBus;
  monitorId: string;
  log: Logger;
  send(text: string): void;
  pause(): void;
  resume(): void;
  onShutdownRequest(): void;
}

type Job = QValue | QmpError;

function errorObject(code: number, cls: string, desc: string, id: QValue): string {
  return encodeJson({ jsonrpc: '2.0', error: { code, message: desc, data: { class: cls, desc } }, id });
}

function invalid(desc: string, id: QValue = null): string {
  return errorObject(JsonRpcCode.InvalidRequest, 'GenericError', desc, id);
}

export class JsonRpcConnection implements EventSubscriber {
  readonly pretty = false;
  private readonly streamer: JsonStreamer;
  private readonly queue: Job[] = [];
  private readonly ctx: CommandContext;
  private busy = false;
  private paused = false;
  private closed = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: JsonRpcOptions) {
    this.streamer = new JsonStreamer((m) => this.enqueue(m));
    this.ctx = {
      monitorId: opts.monitorId,
      log: opts.log,
      requestShutdown: opts.onShutdownRequest,
      negotiate: () => {
        throw protocolErrors.negotiationComplete();
      },
    };
  }

  get wantsEvents(): boolean {
    return !this.closed;
  }

  start(): void {
    this.unsubscribe = this.opts.events.subscribe(this);
  }

  /** One WebSocket text frame. */
  feedMessage(bytes: Uint8Array): void {
    this.streamer.feed(bytes);
    this.streamer.end();
  }

  /** An encoded QMP event (CR LF ended) becomes a notification without re-encoding it. */
  sendRaw(text: string): void {
    if (this.closed) return;
    const event = text.endsWith('\r\n') ? text.slice(0, -2) : text;
    this.opts.send(`{"jsonrpc": "2.0", "method": ${encodeString(EVENT_METHOD)}, "params": ${event}}`);
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.unsubscribe?.();
  }

  private enqueue(job: Job): void {
    if (this.closed) return;
    this.queue.push(job);
    if (this.queue.length >= MAX_QUEUED_JOBS && !this.paused) {
      this.paused = true;
      this.opts.pause();
    }
    if (!this.busy) void this.pump();
  }

  private async pump(): Promise<void> {
    this.busy = true;
    while (this.queue.length > 0 && !this.closed) {
      const job = this.queue.shift()!;
      let out: string | undefined;
      try {
        out = await this.runJob(job);
      } catch (err) {
        // dispatch catches handler errors; reaching here is a bug in this file, not the client's fault.
        this.opts.log.error({ err }, 'JSON-RPC request failed unexpectedly');
        out = errorObject(JsonRpcCode.ServerError, 'GenericError', 'internal error', null);
      }
      if (out !== undefined && !this.closed) this.opts.send(out);
      if (this.paused && this.queue.length < MAX_QUEUED_JOBS / 2) {
        this.paused = false;
        this.opts.resume();
      }
    }
    this.busy = false;
  }

  /** The response text of one message, or undefined when nothing is owed (notifications). */
  private async runJob(job: Job): Promise<string | undefined> {
    if (job instanceof QmpError) return errorObject(JsonRpcCode.ParseError, job.errorClass, job.desc, null);
    if (!Array.isArray(job)) return this.runOne(job);
    if (job.length === 0) return invalid('empty batch');
    if (job.length > MAX_BATCH_SIZE) return invalid(`batch larger than ${MAX_BATCH_SIZE} requests`);
    const parts: string[] = [];
    for (const item of job) {
      const r = await this.runOne(item);
      if (r !== undefined) parts.push(r);
    }
    return parts.length === 0 ? undefined : `[${parts.join(', ')}]`;
  }

  private async runOne(request: QValue): Promise<string | undefined> {
    if (!isDict(request)) return invalid('a request must be a JSON object');
    const hasId = Object.hasOwn(request, 'id');
    const id = hasId ? request.id! : null;
    const shapeError = checkRequest(request);
    if (shapeError !== undefined) return invalid(shapeError, isValidId(id) ? id : null);
    const method = request.method as string;
    const params = (request.params ?? newDict()) as QDict;
    if (request.params !== undefined && !isDict(request.params)) {
      return hasId ? errorObject(JsonRpcCode.InvalidParams, 'GenericError', 'params must be an object (by-name arguments)', id) : undefined;
    }
    const message = newDict();
    message.execute = method;
    message.arguments = params;
    const reply: Reply = await this.opts.dispatcher.dispatch(message, STATE, this.ctx);
    if (!hasId) return undefined;
    if (reply.error === undefined) return encodeJson({ jsonrpc: '2.0', result: reply.return, id });
    const { class: cls, desc } = reply.error;
    const code =
      cls === 'CommandNotFound'
        ? JsonRpcCode.MethodNotFound
        : this.rejectedBySchema(method, params, desc)
          ? JsonRpcCode.InvalidParams
          : JsonRpcCode.ServerError;
    return errorObject(code, cls, desc, id);
  }

  /** Only on the error path: was it the argument validation that refused? (-32602 rather than -32000) */
  private rejectedBySchema(method: string, params: QDict, desc: string): boolean {
    if (this.opts.registry.get(method) === undefined) return false;
    try {
      this.opts.registry.schema.validateArguments(method, params);
      return false;
    } catch (err) {
      if (err instanceof QmpError) return err.desc === desc;
      throw err;
    }
  }
}

function isValidId(id: QValue): boolean {
  return id === null || typeof id === 'string' || typeof id === 'number' || typeof id === 'bigint';
}

/** JSON-RPC 2.0 §4: jsonrpc "2.0", a string method, params by name, a scalar id, nothing else. */
function checkRequest(r: QDict): string | undefined {
  if (r.jsonrpc !== '2.0') return 'member "jsonrpc" must be "2.0"';
  if (typeof r.method !== 'string') return 'member "method" must be a string';
  if (Object.hasOwn(r, 'id') && !isValidId(r.id!)) return 'member "id" must be a string, a number or null';
  for (const key of Object.keys(r)) {
    if (key !== 'jsonrpc' && key !== 'method' && key !== 'params' && key !== 'id') return `member "${key}" is unexpected`;
  }
  return undefined;
}
