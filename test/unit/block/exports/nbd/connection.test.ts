import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../../helpers/nbd-backends.js';
import { errorOf, RawNbdClient, type Reply } from '../../../../helpers/nbd-client.js';
import { startNbd } from '../../../../helpers/nbd-fixture.js';

const MiB = 1024 * 1024;
const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await settle(5);
}

async function opened(socket: string, name = 'disk', o: { structured?: boolean; meta?: string[] } = {}) {
  const c = await RawNbdClient.connect(socket);
  await c.open(name, o);
  return c;
}

function handleOf(r: Reply[]): bigint {
  return r[0]!.handle;
}

describe('NBD connection', () => {
  it('answers pipelined requests in completion order', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    const releaseReads = mem.gate('read');
    c.request({ type: 0, handle: 1n, length: 4096, flags: 4 });
    c.request({ type: 1, handle: 2n, offset: 8192, data: Buffer.alloc(512, 9) });
    c.request({ type: 3, handle: 3n });
    expect(handleOf(await c.replies())).toBe(2n);
    expect(handleOf(await c.replies())).toBe(3n);
    releaseReads();
    const read = await c.replies();
    expect(handleOf(read)).toBe(1n);
    c.close();
  });

  it('keeps reading and replying while one request is held by a drained backend', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    const release = mem.hold(['flush']);
    c.request({ type: 3, handle: 1n });
    c.request({ type: 1, handle: 2n, data: Buffer.alloc(4096, 1) });
    c.request({ type: 0, handle: 3n, length: 4096, flags: 4 });
    expect(handleOf(await c.replies())).toBe(2n);
    const read = await c.replies();
    expect(handleOf(read)).toBe(3n);
    expect(mem.inFlight).toBe(0);
    release();
    expect(await c.replies()).toEqual([{ kind: 'simple', error: 0, handle: 1n, data: Buffer.alloc(0) }]);
    expect(mem.flushes).toBe(1);
    await until(() => mem.inFlight === 0);
    expect(mem.kinds).toEqual(['flush', 'write', 'read']);
    c.close();
  });

  it('admits at most 16 requests at once and reads the rest as they finish', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    const release = mem.hold();
    for (let i = 1; i <= 40; i++) c.request({ type: 3, handle: BigInt(i) });
    await until(() => mem.kinds.length === 16);
    await settle();
    expect(mem.kinds).toHaveLength(16);
    release();
    const handles = new Set<bigint>();
    for (let i = 0; i < 40; i++) handles.add(handleOf(await c.replies()));
    expect(handles.size).toBe(40);
    expect(mem.maxInFlight).toBeLessThanOrEqual(16);
    c.close();
  });

  it('stops reading requests from a client that does not read its replies, then catches up', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 8 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket, 'disk', { structured: false });
    c.socket.pause();
    const total = 300;
    for (let i = 0; i < total; i++) c.request({ type: 0, handle: BigInt(i), length: MiB, offset: (i % 8) * MiB });
    await until(() => mem.kinds.length >= 16);
    await settle(300);
    // 300 MiB of replies were asked for; the server stops near its 8 MiB output limit plus what the kernel buffers.
    expect(mem.kinds.length).toBeLessThan(100);
    c.socket.resume();
    for (let i = 0; i < total; i++) expect((await c.reply(MiB)).kind).toBe('simple');
    expect(mem.kinds).toHaveLength(total);
    c.close();
  });

  it('maps backend errors to NBD errors with QEMU texts, structured and simple', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    mem.failures.set('write', 'ENOSPC');
    c.request({ type: 1, data: Buffer.alloc(512) });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 28, message: 'writing to file failed' });
    mem.failures.set('read', 'EIO');
    c.request({ type: 0, length: 512, flags: 4 });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 5, message: 'reading from file failed' });
    mem.failures.set('flush', 'EROFS');
    c.request({ type: 3 });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 1, message: 'flush failed' });
    mem.failures.set('writeZeroes', 'ENOTSUP');
    c.request({ type: 6, length: 4096, flags: 0x10 });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 95, message: 'writing to file failed' });
    mem.failures.set('trim', 'EBUSY');
    c.request({ type: 4, length: 4096 });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 22, message: 'discard failed' });
    mem.failures.set('blockStatus', 'EIO');
    c.request({ type: 0, length: 512 });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 5, message: 'unable to check for holes: Input/output error' });
    c.close();
    const s = await opened(f.socket, 'disk', { structured: false });
    mem.failures.set('read', 'EIO');
    s.request({ type: 0, length: 512 });
    expect(await s.replies()).toEqual([{ kind: 'simple', error: 5, handle: 1n, data: Buffer.alloc(0) }]);
    s.close();
  });

  it('sends READ data as data and hole chunks, and as one data chunk with DF', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB });
    mem.data.fill(5, 64 * 1024, 128 * 1024);
    mem.state[1] = 1;
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    c.request({ type: 0, length: 192 * 1024 });
    const chunks = (await c.replies()).map((r) => (r.kind === 'chunk' ? [r.flags, r.type, r.payload.length] : []));
    expect(chunks).toEqual([
      [0, 2, 12],
      [0, 1, 8 + 65536],
      [1, 2, 12],
    ]);
    c.request({ type: 0, length: 192 * 1024, flags: 4 });
    const df = await c.replies();
    expect(df).toHaveLength(1);
    expect(df[0]!.kind === 'chunk' && df[0]!.payload.subarray(8).equals(mem.data.subarray(0, 192 * 1024))).toBe(true);
    c.close();
  });

  it('reports every selected context in one BLOCK_STATUS reply, DONE on the last', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 4 * MiB, allocationDepth: true, bitmaps: ['b0'] });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket, 'disk', { meta: ['base:allocation', 'qemu:allocation-depth', 'qemu:dirty-bitmap:b0'] });
    c.request({ type: 1, offset: MiB, data: Buffer.alloc(MiB, 1) });
    await c.replies();
    c.request({ type: 7, length: 4 * MiB });
    const replies = await c.replies();
    const decode = (p: Buffer) => {
      const out: number[] = [p.readUInt32BE(0)];
      for (let i = 4; i < p.length; i += 4) out.push(p.readUInt32BE(i));
      return out;
    };
    expect(replies.map((r) => (r.kind === 'chunk' ? [r.flags, r.type, ...decode(r.payload)] : []))).toEqual([
      [0, 5, 0, MiB, 3, MiB, 0, 2 * MiB, 3],
      [0, 5, 1, MiB, 0, MiB, 1, 2 * MiB, 0],
      [1, 5, 2, MiB, 0, MiB, 1, 2 * MiB, 0],
    ]);
    c.request({ type: 7, length: 4 * MiB, flags: 8 });
    const one = await c.replies();
    expect(one.map((r) => (r.kind === 'chunk' ? decode(r.payload) : []))).toEqual([
      [0, MiB, 3],
      [1, MiB, 0],
      [2, MiB, 0],
    ]);
    c.close();
  });

  it('refuses writes on a read-only export with EPERM and leaves the data alone', async () => {
    const mem = new MemoryBackend({ name: 'ro', size: MiB, writable: false });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket, 'ro');
    c.request({ type: 1, data: Buffer.alloc(512, 7) });
    c.request({ type: 6, length: 512 });
    c.request({ type: 4, length: 512 });
    for (let i = 0; i < 3; i++) expect(errorOf((await c.replies())[0]!)).toEqual({ error: 1, message: 'Export is read-only' });
    expect(mem.data.every((b) => b === 0)).toBe(true);
    c.close();
  });

  it('checks requests against the current size after the export shrinks', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 2 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    mem.limit = MiB;
    c.request({ type: 1, offset: MiB + 4096, data: Buffer.alloc(4096, 3) });
    expect(errorOf((await c.replies())[0]!)).toEqual({ error: 22, message: 'operation past EOF; From: 1052672, Len: 4096, Size: 1048576' });
    expect(mem.data.subarray(MiB).every((b) => b === 0)).toBe(true);
    c.close();
  });

  it('rechecks a held request against the size it finds when admitted', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: 2 * MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    const release = mem.hold();
    c.request({ type: 1, offset: MiB + 4096, data: Buffer.alloc(4096, 3) });
    await until(() => mem.kinds.length === 1);
    mem.limit = MiB;
    release();
    expect(errorOf((await c.replies())[0]!).error).toBe(22);
    expect(mem.data.subarray(MiB).every((b) => b === 0)).toBe(true);
    c.close();
  });

  it('finishes requests in flight before closing on NBD_CMD_DISC', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    const release = mem.gate('read');
    c.request({ type: 0, handle: 9n, length: 4096, flags: 4 });
    c.request({ type: 2 });
    await settle();
    release();
    expect(handleOf(await c.replies())).toBe(9n);
    expect(await c.closesSilently()).toBe(true);
  });

  it('settles a request whose client went away and counts it out of flight', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: MiB });
    await using f = await startNbd([mem]);
    const c = await opened(f.socket);
    const release = mem.gate('read');
    c.request({ type: 0, length: 4096, flags: 4 });
    await until(() => mem.inFlight === 1);
    c.close();
    await settle();
    release();
    await until(() => mem.inFlight === 0);
    await until(() => f.server.connectionCount() === 0);
    expect(f.server.connectionCount('disk')).toBe(0);
  });

  it('drops a client that does not finish the handshake in time', async () => {
    await using f = await startNbd([new MemoryBackend({ name: 'disk', size: MiB })], { handshakeTimeoutMs: 50 });
    const c = await RawNbdClient.connect(f.socket);
    c.clientFlags(3);
    expect(await c.closesSilently()).toBe(true);
  });
});
