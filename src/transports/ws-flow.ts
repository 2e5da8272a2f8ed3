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
  private inBurst = false;
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

  /** One text frame (bytes given are UTF-8 already). */
  send(text: string | Buffer): void {
    if (this.closed) return;
    this.ws.send(text, { binary: false });
    // Inside a burst the output is corked, not refused by the peer: judge it once uncorked.
    if (!this.inBurst) this.checkOutput();
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
