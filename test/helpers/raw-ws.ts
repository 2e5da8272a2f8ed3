/**
 * A WebSocket client written by hand over a TCP socket (RFC 6455), for tests
 * that need what the `ws` client will not do: inspect the raw handshake,
 * send invalid UTF-8, binary or oversized frames, or stop reading.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Opcode = { Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export interface HandshakeResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** A client frame: always masked, as RFC 6455 §5.3 requires. */
export function encodeFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const header = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) header[1] = 0x80 | len;
  else if (len < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

export class RawWebSocket {
  private buffer = Buffer.alloc(0);
  private frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parseFrames();
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Opens a TCP connection and sends the upgrade request; resolves with the server's answer. */
  static async open(
    port: number,
    headers: Record<string, string> = {},
    path = '/qmp',
  ): Promise<{ ws: RawWebSocket; handshake: HandshakeResult; key: string }> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const key = randomBytes(16).toString('base64');
    const all: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...headers,
    };
    const request = [`GET ${path} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    socket.write(request);
    const handshake = await readHandshake(socket);
    const ws = new RawWebSocket(socket);
    if (handshake.rest.length > 0) socket.emit('data', handshake.rest);
    return { ws, handshake: handshake.result, key };
  }

  sendFrame(opcode: number, payload: Buffer | string, fin = true): void {
    this.socket.write(encodeFrame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload, fin));
  }

  sendText(text: string): void {
    this.sendFrame(Opcode.Text, text);
  }

  private parseFrames(): void {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + len) return;
      this.frames.push({ fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: b.subarray(offset, offset + len) });
      this.buffer = b.subarray(offset + len);
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  async nextFrame(timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error('connection ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.shift()!;
  }

  /** The next close frame's code and reason, skipping data frames. */
  async closeFrame(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    for (;;) {
      const f = await this.nextFrame(timeoutMs);
      if (f.opcode === Opcode.Close) return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString('utf8') };
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function readHandshake(socket: Socket): Promise<{ result: HandshakeResult; rest: Buffer }> {
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      if (status === 101) {
        socket.off('data', onData);
        resolve({ result: { status, headers, body: '' }, rest });
        return;
      }
      // A refusal: read the body until the server closes.
      socket.off('data', onData);
      let body = rest;
      socket.on('data', (c: Buffer) => (body = Buffer.concat([body, c])));
      socket.on('close', () => resolve({ result: { status, headers, body: body.toString('utf8') }, rest: Buffer.alloc(0) }));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}
