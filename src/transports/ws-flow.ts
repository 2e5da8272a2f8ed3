/**
 * Flow control of one WebSocket connection, whatever its dialect. Input is
 * paused while the dialect's request queue is full or our unsent output is
 * above the high-water mark; a client that lets output pile up past the hard
 * limit (events keep coming even when requests stop) is disconnected.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { HttpLimits } from './http-config.js';

/** RFC 6455 close codes we send. */
export const enum CloseCode {
  Normal = 1000,
  GoingAway = 1001,
  UnsupportedData = 1003,
  PolicyViolation = 1008,
  MessageTooBig = 1009,
}

function frameHeaderLength(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10;
}

/** An unmasked, unfragmented text frame (RFC 6455 5.2) at `pos`; returns where it ends. */
function writeTextFrame(out: Buffer, pos: number, payload: Buffer): number {
  const n = payload.length;
  out[pos] = 0x81; // FIN, opcode 1 (text)
  if (n < 126) {
    out[pos + 1] = n;
  } else if (n < 0x10000) {
    out[pos + 1] = 126;
    out.writeUInt16BE(n, pos + 2);
  } else {
    out[pos + 1] = 127;
    out.writeBigUInt64BE(BigInt(n), pos + 2);
  }
  const start = pos + frameHeaderLength(n);
  payload.copy(out, start);
  return start + n;
}

export class WsFlow {
  private inputPausedByDialect = false;
  private outputPaused = false;
  private overLimit = false;
  private inBurst = false;
  private readonly onFlushed = () => this.checkDrained();
  /** Text frames of the current burst, not yet written. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly writeSocket: (chunk: Buffer) => boolean;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly limits: HttpLimits,
  ) {
    // ws writes its own frames (pong, close) on this socket too: what we hold goes out first.
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
    this.writeSocket = write;
    socket.write = ((...args: Parameters<Duplex['write']>) => {
      this.flushHeld();
      return (write as Duplex['write'])(...args);
    }) as Duplex['write'];
  }

  /** True once the connection is closing or was dropped for not reading. */
  get closed(): boolean {
    return this.overLimit || this.ws.readyState !== this.ws.OPEN;
  }

  /**
   * One text frame (bytes given are UTF-8 already). Inside a burst, frames
   * are held and leave together as one buffer: handing ws (and the socket)
   * one frame at a time costs more per frame than the frame itself on
   * pipelined small replies (throughput 0.6x -> 0.73x of the unix socket's).
   */
  send(text: string | Buffer): void {
    if (this.closed) return;
    const payload = typeof text === 'string' ? Buffer.from(text) : text;
    if (this.inBurst) {
      this.held.push(payload);
      this.heldBytes += frameHeaderLength(payload.length) + payload.length;
      return;
    }
    this.ws.send(payload, { binary: false });
    this.checkOutput();
  }

  /** Writes the held frames, in order, as one buffer. */
  private flushHeld(): void {
    if (this.held.length === 0) return;
    const out = Buffer.allocUnsafe(this.heldBytes);
    let pos = 0;
    for (const payload of this.held) pos = writeTextFrame(out, pos, payload);
    this.held = [];
    this.heldBytes = 0;
    if (!this.socket.destroyed) this.writeSocket(out);
  }

  /** Coalesce the frames of a burst of replies into one write. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /**
   * Around the processing of one TCP chunk (every frame in it): replies go
   * out in one write. A chunk is at most 64 KiB, so what a burst can add to
   * the buffer is bounded.
   */
  beginBurst(): void {
    this.inBurst = true;
    this.socket.cork();
  }

  endBurst(): void {
    this.inBurst = false;
    this.flushHeld();
    this.socket.uncork();
    this.checkOutput();
  }

  /** What the kernel did not take is what the peer is not reading. */
  private checkOutput(): void {
    if (this.closed) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.limits.wsMaxBufferedBytes) {
      this.overLimit = true;
      this.ws.close(CloseCode.PolicyViolation, 'output buffer limit exceeded: the client does not read');
      return;
    }
    if (!this.outputPaused && buffered > this.limits.wsOutputHighWater) {
      this.outputPaused = true;
      this.update();
      this.waitForDrain();
    }
  }

  pauseInput(): void {
    this.inputPausedByDialect = true;
    this.update();
  }

  resumeInput(): void {
    this.inputPausedByDialect = false;
    this.update();
  }

  private waitForDrain(): void {
    // 'drain' comes only after a write that found the socket's buffer full.
    if (this.socket.writableNeedDrain) this.socket.once('drain', this.onFlushed);
    else setImmediate(this.onFlushed);
  }

  private checkDrained(): void {
    if (!this.outputPaused || this.closed) return;
    if (this.ws.bufferedAmount <= this.limits.wsOutputHighWater / 2) {
      this.outputPaused = false;
      this.update();
    } else {
      this.waitForDrain();
    }
  }

  private update(): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.inputPausedByDialect || this.outputPaused) this.ws.pause();
    else this.ws.resume();
  }
}
