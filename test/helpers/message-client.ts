/**
 * One message-level client interface over two real transports: a unix socket
 * (bytes, replies split on CR LF) and a WebSocket (the `ws` client, one message
 * per text frame). The shared QMP protocol suite runs over either. Replies are
 * kept as raw text too, so tests can check exact bytes (big integers, escapes).
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

export type Message = Record<string, unknown>;

export interface Reply {
  raw: string;
  value: Message;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export abstract class MessageClient {
  readonly events: Message[] = [];
  private readonly queue: Reply[] = [];
  private waiters: (() => void)[] = [];
  protected isClosed = false;
  readonly closed: Promise<CloseInfo>;
  protected resolveClosed!: (info: CloseInfo) => void;

  constructor() {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Sends one message: written to the stream, or one text frame. */
  abstract send(text: string): void;
  abstract close(): void;

  protected onMessage(raw: string): void {
    const value = JSON.parse(raw) as Message;
    if ('event' in value && 'timestamp' in value) this.events.push(value);
    else this.queue.push({ raw, value });
    this.wake();
  }

  protected onClose(info: CloseInfo): void {
    this.isClosed = true;
    this.resolveClosed(info);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private async waitFor(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} in time`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async nextReply(timeoutMs = 10_000): Promise<Reply> {
    await this.waitFor(() => this.queue.length > 0, 'reply', timeoutMs);
    return this.queue.shift()!;
  }

  async next(timeoutMs = 10_000): Promise<Message> {
    return (await this.nextReply(timeoutMs)).value;
  }

  async command(execute: string, args?: Record<string, unknown>): Promise<Message> {
    this.send(JSON.stringify(args === undefined ? { execute } : { execute, arguments: args }));
    return this.next();
  }

  async waitEvent(name: string, timeoutMs = 10_000): Promise<Message> {
    await this.waitFor(() => this.events.some((e) => e.event === name), `${name} event`, timeoutMs);
    return this.events.splice(this.events.findIndex((e) => e.event === name), 1)[0]!;
  }

  /** Nothing queued right now (replies or events). */
  get pending(): number {
    return this.queue.length + this.events.length;
  }
}

export class UnixMessageClient extends MessageClient {
  private buffer = '';

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        if (line !== '') this.onMessage(line);
      }
    });
    socket.on('close', () => this.onClose({ code: 0, reason: 'socket closed' }));
    socket.on('error', () => {});
  }

  static async connect(path: string): Promise<UnixMessageClient> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new UnixMessageClient(socket);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.end();
  }
}

export class WsMessageClient extends MessageClient {
  private constructor(readonly ws: WebSocket) {
    super();
    ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('the server sent a binary frame');
      this.onMessage((data as Buffer).toString('utf8'));
    });
    ws.on('close', (code, reason) => this.onClose({ code, reason: reason.toString() }));
    ws.on('error', () => {});
  }

  static async connect(url: string, protocols?: string[], headers?: Record<string, string>): Promise<WsMessageClient> {
    const ws = new WebSocket(url, protocols, { headers });
    const client = new WsMessageClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return client;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.ws.close();
  }
}
