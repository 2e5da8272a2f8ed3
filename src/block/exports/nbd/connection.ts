/**
 * One NBD client connection: greeting, handshake, then requests processed
 * concurrently with replies in completion order. Flow control keeps memory
 * bounded: reading stops while MAX_REQUESTS_IN_FLIGHT requests or
 * MAX_BYTES_IN_FLIGHT payload bytes are held, or while more than
 * OUTPUT_HIGH_WATER reply bytes wait for a client that does not read.
 *
 * Replies queued in one event-loop turn leave in one writev (cork until
 * setImmediate). A request held by its backend (drained node) waits alone:
 * reading and other replies go on.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  MAX_BYTES_IN_FLIGHT,
  MAX_REQUESTS_IN_FLIGHT,
  NBD_CMD_DISC,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_EINVAL,
  NBD_EIO,
  NBD_MAX_BUFFER_SIZE,
  OUTPUT_HIGH_WATER,
} from './constants.js';
import type { ExportClient, ExportEntry, ExportTable } from './export-table.js';
import { Handshake, type HandshakeResult } from './handshake.js';
import type { MetaSelection } from './meta-context.js';
import { takeBuffer } from './buffer-pool.js';
import { RequestParser, type FramingError, type RequestHeader, type RequestSink } from './requests.js';
import { execute, NbdRequest, sendError, validate, type TransmissionContext } from './transmission.js';

/** How long a closing connection may take to flush its last replies to a peer that does not read. */
const CLOSE_LINGER_MS = 5000;

export interface ConnectionHost {
  readonly table: ExportTable;
  /** 0: no handshake time limit. */
  readonly handshakeTimeoutMs: number;
  /** The socket is closed and every request has settled. */
  connectionClosed(conn: NbdConnection): void;
}

const enum Phase {
  Handshake,
  Transmission,
  /** No more input; waiting for requests in flight, then flushing and closing. */
  Closing,
  /** Socket gone; requests still in flight finish without replies. */
  Closed,
}

export class NbdConnection implements RequestSink, TransmissionContext, ExportClient {
  entry!: ExportEntry;
  structured = false;
  meta: MetaSelection | null = null;
  private phase = Phase.Handshake;
  private handshake: Handshake | null;
  private parser: RequestParser | null = null;
  private inFlight = 0;
  private bytesInFlight = 0;
  private readPaused = false;
  private corked = false;
  private attached = false;
  private finalized = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly pool: NbdRequest[] = [];
  /** Validation result of the WRITE whose payload is being received. */
  private readonly writeCheck = { error: 0, message: '' };

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    readonly log: Logger,
  ) {
    this.handshake = new Handshake(host.table, {
      send: (buf) => this.send(buf),
      ready: (r) => this.startTransmission(r),
      close: (reason) => this.beginClose(reason),
      blocked: () => this.socket.writableLength >= OUTPUT_HIGH_WATER,
    });
  }

  /** Sends the greeting and starts reading. */
  start(): void {
    const s = this.socket;
    s.on('data', this.onData);
    s.on('end', () => this.beginClose('client closed the connection'));
    s.on('error', (err) => this.log.debug({ err }, 'NBD connection error'));
    s.on('close', () => this.onSocketClose());
    s.on('drain', () => this.updateFlow());
    if (this.host.handshakeTimeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.log.debug('NBD handshake timed out');
        this.destroy();
      }, this.host.handshakeTimeoutMs);
    }
    this.send(Handshake.greeting());
  }

  /** Drops the connection at once (hard export removal, server close). */
  destroy(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.parser?.stop();
    this.socket.destroy();
  }

  // --- Input ---

  private readonly onData = (chunk: Buffer): void => {
    if (this.phase === Phase.Handshake) this.handshake!.push(chunk);
    else if (this.phase === Phase.Transmission) this.parser!.push(chunk);
    this.updateFlow();
  };

  private startTransmission(r: HandshakeResult): void {
    clearTimeout(this.timer);
    this.handshake = null;
    this.phase = Phase.Transmission;
    this.entry = r.entry;
    this.structured = r.structured;
    this.meta = r.meta;
    this.entry.attach(this);
    this.attached = true;
    this.parser = new RequestParser(this);
    this.log.debug({ export: this.entry.backend.name, structured: this.structured }, 'NBD transmission started');
    if (r.rest) this.parser.push(r.rest);
  }

  payloadBuffer(h: RequestHeader): Buffer | null {
    const c = this.writeCheck;
    c.error = validate(this, h, c);
    if (c.error !== 0) return null;
    this.bytesInFlight += h.length;
    return takeBuffer(h.length);
  }

  request(h: RequestHeader, payload: Buffer | null): void {
    if (h.type === NBD_CMD_DISC) return this.beginClose('client sent NBD_CMD_DISC');
    const r = (this.pool.pop() ?? new NbdRequest()).load(h, payload);
    if (h.type === NBD_CMD_WRITE && h.length > 0) {
      r.error = this.writeCheck.error;
      r.message = this.writeCheck.message;
    } else {
      r.error = validate(this, r, r);
      if (r.error === 0 && r.type === NBD_CMD_READ) this.bytesInFlight += r.length;
    }
    this.inFlight++;
    void this.run(r);
    this.updateFlow();
  }

  framingError(kind: FramingError, h: RequestHeader): void {
    const r = new NbdRequest().load(h, null);
    const message =
      kind === 'bad-magic'
        ? `invalid magic (got 0x${h.magic.toString(16)})`
        : `len (${h.length} ) is larger than max len (${NBD_MAX_BUFFER_SIZE})`;
    // QEMU answers, then hangs up: the rest of the stream cannot be framed.
    sendError(this, r, NBD_EINVAL, message);
    this.beginClose(`protocol error: ${message}`);
  }

  // --- Requests ---

  private async run(r: NbdRequest): Promise<void> {
    const backend = this.entry.backend;
    const kind = r.kind;
    let begun = false;
    try {
      if (r.error !== 0) return sendError(this, r, r.error, r.message);
      if (kind && backend.beginRequest) {
        const hold = backend.beginRequest(kind);
        begun = true;
        if (hold) {
          await hold;
          if (this.phase === Phase.Closed) return;
          // The node may have been resized while the request was held.
          const error = validate(this, r, r);
          if (error !== 0) return sendError(this, r, error, r.message);
        }
      }
      await execute(this, r);
    } catch (err) {
      this.log.error({ err }, 'NBD request failed unexpectedly');
      sendError(this, r, NBD_EIO, 'request failed');
    } finally {
      if (begun && kind) backend.endRequest?.(kind);
      this.settle(r);
    }
  }

  private settle(r: NbdRequest): void {
    if (r.error === 0 && (r.type === NBD_CMD_READ || r.type === NBD_CMD_WRITE)) this.bytesInFlight -= r.length;
    r.payload = null;
    if (this.pool.length < MAX_REQUESTS_IN_FLIGHT) this.pool.push(r);
    this.inFlight--;
    if (this.inFlight > 0) return this.updateFlow();
    if (this.phase === Phase.Closing) this.finishClose();
    else if (this.phase === Phase.Closed) this.finalize();
    else this.updateFlow();
  }

  // --- Output and flow control ---

  send(buf: Buffer, sent?: () => void): void {
    if (this.phase === Phase.Closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    if (sent) this.socket.write(buf, sent);
    else this.socket.write(buf);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private updateFlow(): void {
    if (this.phase !== Phase.Transmission && this.phase !== Phase.Handshake) return;
    const over =
      this.inFlight >= MAX_REQUESTS_IN_FLIGHT ||
      this.bytesInFlight >= MAX_BYTES_IN_FLIGHT ||
      this.socket.writableLength >= OUTPUT_HIGH_WATER;
    if (over) {
      if (this.readPaused) return;
      this.readPaused = true;
      this.parser?.pause();
      this.socket.pause();
    } else if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
      if (this.parser) this.parser.resume();
      else this.handshake?.resume();
    }
  }

  // --- Closing ---

  private beginClose(reason: string): void {
    if (this.phase === Phase.Closing || this.phase === Phase.Closed) return;
    this.log.debug({ reason }, 'NBD connection closing');
    clearTimeout(this.timer);
    this.phase = Phase.Closing;
    this.parser?.stop();
    this.socket.pause();
    if (this.inFlight === 0) this.finishClose();
  }

  /** Flushes what is queued, then closes; a peer that does not read gets CLOSE_LINGER_MS. */
  private finishClose(): void {
    const s = this.socket;
    if (this.corked) this.uncork();
    s.end(() => s.destroy());
    this.timer = setTimeout(() => s.destroy(), CLOSE_LINGER_MS);
    this.timer.unref();
  }

  private onSocketClose(): void {
    this.phase = Phase.Closed;
    this.parser?.stop();
    if (this.inFlight === 0) this.finalize();
  }

  private finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    clearTimeout(this.timer);
    if (this.attached) this.entry.detach(this);
    this.host.connectionClosed(this);
  }
}
