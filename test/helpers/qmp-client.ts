/**
 * A small QMP client for tests: connects to a unix or TCP socket, splits the
 * stream into messages on CR LF, keeps events aside, and sends raw bytes or
 * commands. It parses with JSON.parse, an independent parser from ours.
 */
import { connect, type Socket } from 'node:net';

export type Message = Record<string, unknown>;

export class QmpClient {
  readonly events: Message[] = [];
  private buffer = '';
  private readonly queue: Message[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  greeting: Message | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(target: string | { host: string; port: number }, negotiate = true): Promise<QmpClient> {
    const socket = typeof target === 'string' ? connect(target) : connect(target.port, target.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new QmpClient(socket);
    client.greeting = await client.next();
    if (negotiate) await client.execute('qmp_capabilities');
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      let msg: Message;
      try {
        msg = JSON.parse(line) as Message;
      } catch {
        msg = { $unparsable: line }; // QEMU prints a double overflow as a bare `inf`
      }
      if ('event' in msg && !('return' in msg) && !('error' in msg)) this.events.push(msg);
      else this.queue.push(msg);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** The next reply (not event), or throws after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closed) throw new Error('QMP connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no QMP reply in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.queue.shift()!;
  }

  sendRaw(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(execute: string, args?: Record<string, unknown>, id?: unknown): Promise<Message> {
    const msg: Record<string, unknown> = { execute };
    if (args) msg.arguments = args;
    if (id !== undefined) msg.id = id;
    this.sendRaw(JSON.stringify(msg) + '\n');
    return this.next();
  }

  /** Runs a command and returns its `return` value; throws with the QMP error otherwise. */
  async execute<T = unknown>(execute: string, args?: Record<string, unknown>): Promise<T> {
    const reply = await this.command(execute, args);
    if ('error' in reply) {
      const e = reply.error as { class: string; desc: string };
      throw new Error(`${execute}: ${e.class}: ${e.desc}`);
    }
    return reply.return as T;
  }

  /** Waits until an event with this name has arrived, and takes it. */
  async waitEvent(name: string, timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.event === name);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
      if (Date.now() > deadline || this.closed) throw new Error(`no ${name} event`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.end();
  }
}
