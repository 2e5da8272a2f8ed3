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

export class WsFlow {
  private inputPausedByDialect = false;
  private outputPaused = false;
  private overLimit = false;
  private readonly onFlushed = () => this.checkDrained();

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly limits: HttpLimits,
  ) {}

  /** True once the connection is closing or was dropped for not reading. */
  get closed(): boolean {
    return this.overLimit || this.ws.readyState !== this.ws.OPEN;
  }

  /** One text frame. */
  send(text: string): void {
    if (this.closed) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered + text.length > this.limits.wsMaxBufferedBytes) {
      this.overLimit = true;
      this.ws.close(CloseCode.PolicyViolation, 'output buffer limit exceeded: the client does not read');
      return;
    }
    this.ws.send(text);
    if (!this.outputPaused && buffered + text.length > this.limits.wsOutputHighWater) {
      this.outputPaused = true;
      this.update();
      this.waitForDrain();
    }
  }

  /** Coalesce the frames of a burst of replies into one write. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
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
