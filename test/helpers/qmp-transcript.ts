/**
 * A QMP test client that keeps every message (replies and events) in arrival
 * order, so tests can check where events fall relative to replies. Requests
 * carry ids; several may be sent in one write (pipelined).
 */
import { connect, type Socket } from 'node:net';

export type Message = Record<string, unknown>;

export interface Request {
  execute: string;
  arguments?: Record<string, unknown>;
}

export class QmpTranscript {
  /** Everything after the capabilities negotiation, in arrival order. */
  readonly messages: Message[] = [];
  private buffer = '';
  private nextId = 1;
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(path: string): Promise<QmpTranscript> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const t = new QmpTranscript(socket);
    await t.waitFor((m) => 'QMP' in m);
    const [reply] = await t.run({ execute: 'qmp_capabilities' });
    if (!('return' in reply!)) throw new Error(`negotiation failed: ${JSON.stringify(reply)}`);
    t.messages.length = 0;
    return t;
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.messages.push(JSON.parse(line) as Message);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Index of the first message at or after `from` that matches. */
  async waitFor(match: (m: Message) => boolean, from = 0, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m, k) => k >= from && match(m));
      if (i >= 0) return i;
      if (this.closed) throw new Error('QMP connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching QMP message in time; got ${JSON.stringify(this.messages.slice(from))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends the requests in one write and returns their replies, in order. */
  async run(...requests: Request[]): Promise<Message[]> {
    const ids = requests.map(() => this.nextId++);
    this.socket.write(requests.map((r, i) => JSON.stringify({ ...r, id: ids[i] })).join(''));
    const replies: Message[] = [];
    for (const id of ids) replies.push(this.messages[await this.waitFor((m) => m.id === id)]!);
    return replies;
  }

  /** Runs one command; returns its `return` value or throws with the QMP error. */
  async execute<T = unknown>(execute: string, args?: Record<string, unknown>): Promise<T> {
    const [reply] = await this.run(args === undefined ? { execute } : { execute, arguments: args });
    if ('error' in reply!) throw new Error(`${execute}: ${JSON.stringify(reply.error)}`);
    return reply!.return as T;
  }

  /** Position of the reply to request `id`. */
  replyIndex(id: number): number {
    return this.messages.findIndex((m) => m.id === id);
  }

  /** JOB_STATUS_CHANGE statuses of one job, with their positions. */
  jobStatuses(jobId: string): { status: string; at: number }[] {
    const out: { status: string; at: number }[] = [];
    this.messages.forEach((m, at) => {
      const data = m.data as { id?: string; status?: string } | undefined;
      if (m.event === 'JOB_STATUS_CHANGE' && data?.id === jobId) out.push({ status: data.status!, at });
    });
    return out;
  }

  /** Waits for a JOB_STATUS_CHANGE of `jobId` to `status`. */
  waitJobStatus(jobId: string, status: string, timeoutMs?: number): Promise<number> {
    return this.waitFor(
      (m) => m.event === 'JOB_STATUS_CHANGE' && (m.data as { id: string }).id === jobId && (m.data as { status: string }).status === status,
      0,
      timeoutMs,
    );
  }

  close(): void {
    this.socket.end();
  }
}
