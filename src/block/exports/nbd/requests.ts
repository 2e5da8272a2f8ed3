/**
 * The transmission-phase request parser: a state machine over the byte
 * chunks a socket delivers. A 28-byte header is parsed in place when a chunk
 * holds it whole, otherwise gathered in a fixed staging buffer; a WRITE
 * payload is copied straight into the buffer the sink hands out (the one the
 * backend will get) or skipped without being stored. Nothing is allocated
 * per request: the header record is reused and must be copied by the sink
 * before it returns.
 *
 * Framing errors that leave the stream unparseable (wrong magic, a WRITE
 * longer than the payload limit) end parsing for good, as QEMU disconnects
 * on them.
 */
import { NBD_CMD_WRITE, NBD_MAX_BUFFER_SIZE, NBD_REQUEST_MAGIC, REQUEST_HEADER_SIZE } from './constants.js';

export interface RequestHeader {
  magic: number;
  flags: number;
  type: number;
  handleHi: number;
  handleLo: number;
  /** Offset as two u32 halves, exact; `offset` is their value as a number (inexact above 2^53). */
  offsetHi: number;
  offsetLo: number;
  offset: number;
  length: number;
}

export type FramingError = 'bad-magic' | 'oversized-write';

export interface RequestSink {
  /** WRITE header parsed: the buffer (exactly `length` bytes) to receive its payload, or null to discard it. */
  payloadBuffer(h: RequestHeader): Buffer | null;
  /** A complete request; `payload` is the buffer from payloadBuffer() once filled, else null. */
  request(h: RequestHeader, payload: Buffer | null): void;
  /** The stream cannot be parsed further; no more calls follow. */
  framingError(kind: FramingError, h: RequestHeader): void;
}

const enum State {
  /** Waiting for (the rest of) a 28-byte request header. */
  Header,
  /** Copying WRITE payload bytes into the sink's buffer. */
  Payload,
  /** Dropping WRITE payload bytes the sink did not want. */
  Discard,
  /** After a framing error: input is ignored. */
  Dead,
}

const TWO_32 = 0x1_0000_0000;

export class RequestParser {
  readonly header: RequestHeader = {
    magic: 0,
    flags: 0,
    type: 0,
    handleHi: 0,
    handleLo: 0,
    offsetHi: 0,
    offsetLo: 0,
    offset: 0,
    length: 0,
  };
  private state = State.Header;
  private readonly staging = Buffer.allocUnsafe(REQUEST_HEADER_SIZE);
  private staged = 0;
  private payload: Buffer | null = null;
  /** Payload bytes still expected (Payload and Discard states). */
  private remaining = 0;
  private pending: Buffer | null = null;
  private paused = false;
  private consuming = false;

  constructor(private readonly sink: RequestSink) {}

  /** Bytes received but not parsed yet (held while paused). */
  get buffered(): number {
    return this.pending ? this.pending.length : 0;
  }

  get dead(): boolean {
    return this.state === State.Dead;
  }

  /** Stops parsing after the current request; unparsed bytes are kept. */
  pause(): void {
    this.paused = true;
  }

  /** Continues with the bytes kept while paused. */
  resume(): void {
    this.paused = false;
    // Called from inside a sink callback: the running loop goes on by itself.
    if (this.consuming) return;
    const rest = this.pending;
    if (rest) {
      this.pending = null;
      this.consume(rest);
    }
  }

  /** Stops for good: nothing more is parsed or kept. */
  stop(): void {
    this.state = State.Dead;
    this.pending = null;
  }

  push(chunk: Buffer): void {
    if (this.state === State.Dead) return;
    if (this.pending) {
      // Only reachable if bytes arrive while paused; the caller bounds this by pausing its source.
      this.pending = Buffer.concat([this.pending, chunk]);
      return;
    }
    this.consume(chunk);
  }

  private consume(chunk: Buffer): void {
    this.consuming = true;
    try {
      this.consumeChunk(chunk);
    } finally {
      this.consuming = false;
    }
  }

  private consumeChunk(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      switch (this.state) {
        case State.Header: {
          if (this.paused) {
            this.pending = pos === 0 ? chunk : chunk.subarray(pos);
            return;
          }
          if (this.staged === 0 && end - pos >= REQUEST_HEADER_SIZE) {
            this.parseHeader(chunk, pos);
            pos += REQUEST_HEADER_SIZE;
          } else {
            const n = Math.min(REQUEST_HEADER_SIZE - this.staged, end - pos);
            chunk.copy(this.staging, this.staged, pos, pos + n);
            this.staged += n;
            pos += n;
            if (this.staged < REQUEST_HEADER_SIZE) return;
            this.staged = 0;
            this.parseHeader(this.staging, 0);
          }
          this.afterHeader();
          break;
        }
        case State.Payload: {
          const n = Math.min(this.remaining, end - pos);
          const buf = this.payload!;
          chunk.copy(buf, buf.length - this.remaining, pos, pos + n);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.complete(buf);
          break;
        }
        case State.Discard: {
          const n = Math.min(this.remaining, end - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.complete(null);
          break;
        }
        case State.Dead:
          return;
      }
    }
  }

  private parseHeader(buf: Buffer, at: number): void {
    const h = this.header;
    h.magic = buf.readUInt32BE(at);
    h.flags = buf.readUInt16BE(at + 4);
    h.type = buf.readUInt16BE(at + 6);
    h.handleHi = buf.readUInt32BE(at + 8);
    h.handleLo = buf.readUInt32BE(at + 12);
    h.offsetHi = buf.readUInt32BE(at + 16);
    h.offsetLo = buf.readUInt32BE(at + 20);
    h.offset = h.offsetHi * TWO_32 + h.offsetLo;
    h.length = buf.readUInt32BE(at + 24);
  }

  private afterHeader(): void {
    const h = this.header;
    if (h.magic !== NBD_REQUEST_MAGIC) return this.fail('bad-magic');
    if (h.type !== NBD_CMD_WRITE || h.length === 0) return this.complete(null);
    if (h.length > NBD_MAX_BUFFER_SIZE) return this.fail('oversized-write');
    const buf = this.sink.payloadBuffer(h);
    if (this.state === State.Dead) return;
    this.remaining = h.length;
    if (buf) {
      this.payload = buf;
      this.state = State.Payload;
    } else {
      this.state = State.Discard;
    }
  }

  private complete(payload: Buffer | null): void {
    this.state = State.Header;
    this.payload = null;
    this.sink.request(this.header, payload);
  }

  private fail(kind: FramingError): void {
    this.state = State.Dead;
    this.pending = null;
    this.sink.framingError(kind, this.header);
  }
}
