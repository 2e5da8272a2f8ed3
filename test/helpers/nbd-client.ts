/**
 * A raw NBD client for tests: sends exact bytes and reads the server's
 * answers back as parsed records, so tests can probe the protocol edge by edge.
 */
import { connect, type Socket } from 'node:net';

export const OPT_MAGIC = Buffer.from('IHAVEOPT', 'latin1');
export const REQUEST_MAGIC = 0x25609513;

export interface OptionReply {
  option: number;
  type: number;
  payload: Buffer;
}

export type Reply =
  | { kind: 'simple'; error: number; handle: bigint; data: Buffer }
  | { kind: 'chunk'; flags: number; type: number; handle: bigint; payload: Buffer };

export interface RequestSpec {
  type: number;
  flags?: number;
  handle?: bigint;
  offset?: bigint | number;
  length?: number;
  data?: Buffer;
  magic?: number;
}

export class RawNbdClient {
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  readonly closed: Promise<void>;
  greetingFlags = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.have += d.length;
      this.wake?.();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** Connects and reads the 18-byte greeting (unless `greet` is false). */
  static async connect(path: string, greet = true): Promise<RawNbdClient> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawNbdClient(socket);
    if (greet) {
      const g = await c.read(18);
      c.greetingFlags = g.readUInt16BE(16);
    }
    return c;
  }

  /** Exactly n bytes; rejects if the server closes first. */
  async read(n: number): Promise<Buffer> {
    while (this.have < n) {
      if (this.ended) throw new Error(`connection closed with ${this.have}/${n} bytes`);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.have -= n;
    return all.subarray(0, n);
  }

  /** Resolves true if the server closes the connection without sending anything more. */
  async closesSilently(): Promise<boolean> {
    await this.closed;
    return this.have === 0;
  }

  write(buf: Buffer): void {
    this.socket.write(buf);
  }

  close(): void {
    this.socket.destroy();
  }

  clientFlags(flags = 3): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(flags);
    this.write(b);
  }

  option(option: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    OPT_MAGIC.copy(h);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.write(Buffer.concat([h, data]));
  }

  async optionReply(): Promise<OptionReply> {
    const h = await this.read(20);
    const len = h.readUInt32BE(16);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), payload: await this.read(len) };
  }

  /** Replies up to and including ACK or an error reply. */
  async optionReplies(): Promise<OptionReply[]> {
    const out: OptionReply[] = [];
    for (;;) {
      const r = await this.optionReply();
      out.push(r);
      if (r.type === 1 || r.type >= 0x80000000) return out;
    }
  }

  static infoData(name: string, infos: number[] = []): Buffer {
    const n = Buffer.from(name);
    const b = Buffer.alloc(4 + n.length + 2 + infos.length * 2);
    b.writeUInt32BE(n.length, 0);
    n.copy(b, 4);
    b.writeUInt16BE(infos.length, 4 + n.length);
    infos.forEach((i, k) => b.writeUInt16BE(i, 6 + n.length + k * 2));
    return b;
  }

  static metaData(name: string, queries: string[]): Buffer {
    const parts = [Buffer.alloc(4), Buffer.from(name), Buffer.alloc(4)];
    parts[0]!.writeUInt32BE(parts[1]!.length);
    parts[2]!.writeUInt32BE(queries.length);
    for (const q of queries) {
      const qb = Buffer.from(q);
      const l = Buffer.alloc(4);
      l.writeUInt32BE(qb.length);
      parts.push(l, qb);
    }
    return Buffer.concat(parts);
  }

  /** Full handshake to transmission with NBD_OPT_GO; returns the export size and flags. */
  async open(name: string, o: { structured?: boolean; meta?: string[] } = {}): Promise<{ size: bigint; flags: number }> {
    this.clientFlags(3);
    if (o.structured ?? true) {
      this.option(8);
      await this.optionReplies();
    }
    if (o.meta) {
      this.option(10, RawNbdClient.metaData(name, o.meta));
      await this.optionReplies();
    }
    this.option(7, RawNbdClient.infoData(name, [3]));
    const replies = await this.optionReplies();
    const last = replies[replies.length - 1]!;
    if (last.type !== 1) throw new Error(`GO failed: ${last.payload.toString()}`);
    const info = replies.find((r) => r.type === 3 && r.payload.readUInt16BE(0) === 0)!;
    return { size: info.payload.readBigUInt64BE(2), flags: info.payload.readUInt16BE(10) };
  }

  static requestBytes(r: RequestSpec): Buffer {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(r.magic ?? REQUEST_MAGIC, 0);
    h.writeUInt16BE(r.flags ?? 0, 4);
    h.writeUInt16BE(r.type, 6);
    h.writeBigUInt64BE(r.handle ?? 1n, 8);
    h.writeBigUInt64BE(BigInt(r.offset ?? 0), 16);
    h.writeUInt32BE(r.length ?? r.data?.length ?? 0, 24);
    return r.data ? Buffer.concat([h, r.data]) : h;
  }

  request(r: RequestSpec): void {
    this.write(RawNbdClient.requestBytes(r));
  }

  /** One reply or chunk; `readLength` is the data length of a successful simple READ reply. */
  async reply(readLength = 0): Promise<Reply> {
    const m = (await this.read(4)).readUInt32BE(0);
    if (m === 0x67446698) {
      const r = await this.read(12);
      const error = r.readUInt32BE(0);
      return { kind: 'simple', error, handle: r.readBigUInt64BE(4), data: error === 0 && readLength ? await this.read(readLength) : Buffer.alloc(0) };
    }
    if (m !== 0x668e33ef) throw new Error(`bad reply magic 0x${m.toString(16)}`);
    const r = await this.read(16);
    return { kind: 'chunk', flags: r.readUInt16BE(0), type: r.readUInt16BE(2), handle: r.readBigUInt64BE(4), payload: await this.read(r.readUInt32BE(12)) };
  }

  /** A whole reply: one simple reply, or chunks up to the one flagged DONE. */
  async replies(readLength = 0): Promise<Reply[]> {
    const out: Reply[] = [];
    for (;;) {
      const r = await this.reply(readLength);
      out.push(r);
      if (r.kind === 'simple' || (r.flags & 1) !== 0) return out;
    }
  }
}

/** The error value and message of an ERROR chunk. */
export function errorOf(r: Reply): { error: number; message: string } {
  if (r.kind === 'simple') return { error: r.error, message: '' };
  if (r.type !== 0x8001) return { error: 0, message: '' };
  const len = r.payload.readUInt16BE(4);
  return { error: r.payload.readUInt32BE(0), message: r.payload.subarray(6, 6 + len).toString() };
}
