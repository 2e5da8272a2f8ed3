/**
 * One QMP session on one connection: greeting → capabilities negotiation →
 * command mode. Requests run one at a time in arrival order, so replies come
 * back in request order; out-of-band requests bypass the queue.
 *
 * States (per connection, never shared):
 *   negotiating  only qmp_capabilities runs; no events are delivered
 *   command      every command runs; events are delivered
 *   closed       the peer went away; queued requests are dropped
 */
import type { Logger } from 'pino';
import { protocolErrors, type QmpError } from './error.js';
import { type Dispatcher, type DispatchState, isOobRequest, type Reply } from './dispatch.js';
import type { EventBus, EventSubscriber } from './events.js';
import { encodeMessage, encodeMessageBody } from './json/encode.js';
import { JsonStreamer } from './json/streamer.js';
import type { QValue } from './json/value.js';
import type { CommandContext } from './registry.js';

/** Parsed requests waiting for their turn before the session stops reading input. */
export const MAX_QUEUED_REQUESTS = 64;

/** The only capability QEMU 7.2 knows. */
export const QMP_CAPABILITIES = ['oob'] as const;

export interface SessionIo {
  write(text: string): void;
  /** Where messages are framed (WebSocket): a reply as its JSON bytes, with no line end. */
  writeMessage?(json: Buffer): void;
  /** Stop / restart delivering input (backpressure). */
  pause(): void;
  resume(): void;
  /** Optional write coalescing around a burst of replies. */
  cork?(): void;
  uncork?(): void;
}

export interface SessionOptions {
  io: SessionIo;
  dispatcher: Dispatcher;
  events: EventBus;
  greeting: unknown;
  monitorId: string;
  log: Logger;
  pretty?: boolean;
  onShutdownRequest: () => void;
  /** Called once when the session closes (metrics of open monitors). */
  onClose?: () => void;
}

export class QmpSession implements EventSubscriber {
  readonly pretty: boolean;
  private readonly state: DispatchState = { negotiating: true, oob: false };
  private readonly streamer: JsonStreamer;
  private readonly queue: (QValue | QmpError)[] = [];
  private readonly ctx: CommandContext;
  private busy = false;
  private paused = false;
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: SessionOptions) {
    this.pretty = opts.pretty ?? false;
    this.streamer = new JsonStreamer((m) => this.onMessage(m));
    this.ctx = {
      monitorId: opts.monitorId,
      log: opts.log,
      requestShutdown: opts.onShutdownRequest,
      negotiate: (caps) => this.negotiate(caps),
    };
  }

  get wantsEvents(): boolean {
    return !this.state.negotiating && !this.closed;
  }

  get negotiating(): boolean {
    return this.state.negotiating;
  }

  start(): void {
    this.unsubscribe = this.opts.events.subscribe(this);
    this.sendRaw(encodeMessage(this.opts.greeting, this.pretty));
  }

  /** Bytes of the JSON stream, split anywhere. */
  feed(chunk: Uint8Array): void {
    this.opts.io.cork?.();
    this.streamer.feed(chunk);
    this.opts.io.uncork?.();
  }

  /** One complete message (a WebSocket frame): what is left unfinished is an error. */
  feedMessage(bytes: Uint8Array): void {
    this.opts.io.cork?.();
    this.streamer.feed(bytes);
    this.streamer.end();
    this.opts.io.uncork?.();
  }

  /** Calls `fn` once every queued request has been answered. */
  whenIdle(fn: () => void): void {
    if (!this.busy && this.queue.length === 0) fn();
    else this.idleWaiters.push(fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.unsubscribe?.();
    this.opts.onClose?.();
  }

  sendRaw(text: string): void {
    if (!this.closed) this.opts.io.write(text);
  }

  private negotiate(caps: readonly string[]): void {
    if (!this.state.negotiating) throw protocolErrors.negotiationComplete();
    for (const cap of caps) {
      if (!(QMP_CAPABILITIES as readonly string[]).includes(cap)) throw protocolErrors.capabilityNotAvailable(cap);
    }
    this.state.oob = caps.includes('oob');
    this.state.negotiating = false;
  }

  private onMessage(message: QValue | QmpError): void {
    if (this.closed) return;
    if (this.state.oob && isOobRequest(message as QValue)) {
      this.runNow(message);
      return;
    }
    this.queue.push(message);
    if (this.queue.length >= MAX_QUEUED_REQUESTS && !this.paused) {
      this.paused = true;
      this.opts.io.pause();
    }
    this.pump();
  }

  private runNow(message: QValue | QmpError): void {
    const reply = this.opts.dispatcher.dispatch(message, this.state, this.ctx);
    if (reply instanceof Promise) void reply.then((r) => this.send(r));
    else this.send(reply);
  }

  private pump(): void {
    while (!this.busy && !this.closed && this.queue.length > 0) {
      const message = this.queue.shift()!;
      const reply = this.opts.dispatcher.dispatch(message, this.state, this.ctx);
      if (reply instanceof Promise) {
        this.busy = true;
        void reply.then((r) => {
          this.busy = false;
          this.opts.io.cork?.();
          this.send(r);
          this.pump();
          this.opts.io.uncork?.();
        });
      } else {
        this.send(reply);
      }
    }
    if (this.paused && this.queue.length < MAX_QUEUED_REQUESTS / 2) {
      this.paused = false;
      this.opts.io.resume();
    }
    if (!this.busy && this.queue.length === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const fn of waiters) fn();
    }
  }

  private send(reply: Reply): void {
    if (this.closed) return;
    const io = this.opts.io;
    if (io.writeMessage) io.writeMessage(encodeMessageBody(reply, this.pretty));
    else io.write(encodeMessage(reply, this.pretty));
  }
}
