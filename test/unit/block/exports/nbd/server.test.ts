import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NbdServer } from '../../../../../src/block/exports/nbd/server.js';
import { MemoryBackend } from '../../../../helpers/nbd-backends.js';
import { RawNbdClient } from '../../../../helpers/nbd-client.js';
import { startNbd } from '../../../../helpers/nbd-fixture.js';

const MiB = 1024 * 1024;
const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await settle(5);
}

describe('NbdServer', () => {
  it('refuses a second export of the same name and over-long names with QEMU texts', async () => {
    await using f = await startNbd([new MemoryBackend({ name: 'disk', size: MiB })]);
    expect(() => f.server.addExport(new MemoryBackend({ name: 'disk', size: MiB }))).toThrow("NBD server already has export named 'disk'");
    const long = 'n'.repeat(4097);
    expect(() => f.server.addExport(new MemoryBackend({ name: long, size: MiB }))).toThrow(`export name '${long}' too long`);
    expect(f.server.exportNames()).toEqual(['disk']);
  });

  it('lets a client past max-connections wait for its greeting until a slot frees up, as QEMU does', async () => {
    await using f = await startNbd([new MemoryBackend({ name: 'disk', size: MiB })], { maxConnections: 2 });
    const a = await RawNbdClient.connect(f.socket);
    const b = await RawNbdClient.connect(f.socket);
    const c = await RawNbdClient.connect(f.socket, false);
    await settle();
    await expect(Promise.race([c.read(1), settle(200).then(() => 'nothing')])).resolves.toBe('nothing');
    a.close();
    const greeting = await c.read(18);
    expect(greeting.subarray(0, 8).toString()).toBe('NBDMAGIC');
    expect(f.server.connectionCount()).toBe(2);
    b.close();
    c.close();
  });

  it('stops advertising multi-conn when only one connection is allowed', async () => {
    await using one = await startNbd([new MemoryBackend({ name: 'disk', size: MiB })], { maxConnections: 1 });
    const c = await RawNbdClient.connect(one.socket);
    expect((await c.open('disk')).flags).toBe(0x0ced);
    c.close();
    await using many = await startNbd([new MemoryBackend({ name: 'disk', size: MiB })]);
    const d = await RawNbdClient.connect(many.socket);
    expect((await d.open('disk')).flags).toBe(0x0ded);
    d.close();
  });

  it("refuses a 'safe' removal while a client is attached, but not for clients still negotiating", async () => {
    await using f = await startNbd([new MemoryBackend({ name: 'disk', size: MiB })]);
    const negotiating = await RawNbdClient.connect(f.socket);
    negotiating.clientFlags(3);
    const attached = await RawNbdClient.connect(f.socket);
    await attached.open('disk');
    expect(f.server.connectionCount('disk')).toBe(1);
    expect(f.server.removeExport('disk', 'safe')).toEqual({ removed: false, connections: 1 });
    attached.close();
    await until(() => f.server.connectionCount('disk') === 0);
    const r = f.server.removeExport('disk', 'safe');
    expect(r?.removed).toBe(true);
    negotiating.option(6, RawNbdClient.infoData('disk'));
    const [reply] = await negotiating.optionReplies();
    expect([reply!.type, reply!.payload.toString()]).toEqual([0x80000006, "export 'disk' not present"]);
    expect(f.server.removeExport('disk', 'safe')).toBeUndefined();
  });

  it("drops attached clients on a 'hard' removal and reports the export gone once their requests settled", async () => {
    const mem = new MemoryBackend({ name: 'disk', size: MiB });
    await using f = await startNbd([mem, new MemoryBackend({ name: 'other', size: MiB })]);
    const c = await RawNbdClient.connect(f.socket);
    await c.open('disk');
    const bystander = await RawNbdClient.connect(f.socket);
    await bystander.open('other');
    const release = mem.gate('read');
    c.request({ type: 0, length: 4096, flags: 4 });
    await until(() => mem.inFlight === 1);
    const r = f.server.removeExport('disk', 'hard');
    if (!r?.removed) throw new Error('not removed');
    expect(r.droppedConnections).toBe(1);
    let closed = false;
    void r.closed.then(() => (closed = true));
    expect(await c.closesSilently()).toBe(true);
    await settle();
    expect(closed).toBe(false);
    release();
    await r.closed;
    expect(mem.inFlight).toBe(0);
    expect(f.server.exportNames()).toEqual(['other']);
    bystander.request({ type: 3 });
    expect((await bystander.replies())[0]).toMatchObject({ kind: 'simple', error: 0 });
    bystander.close();
  });

  it('listens on TCP port 0 and reports the port it got', async () => {
    const server = await NbdServer.start({ address: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
    server.addExport(new MemoryBackend({ name: 'disk', size: MiB }));
    const a = server.address;
    if (a.kind !== 'tcp') throw new Error('not tcp');
    expect(a.port).toBeGreaterThan(0);
    const sock = connect(a.port, '127.0.0.1');
    const greeting = await new Promise<Buffer>((resolve) => sock.once('data', resolve));
    expect(greeting.subarray(0, 8).toString()).toBe('NBDMAGIC');
    sock.destroy();
    await server.close();
  });

  it('drops every connection, settles requests and removes the socket file on close', async () => {
    const mem = new MemoryBackend({ name: 'disk', size: MiB });
    const f = await startNbd([mem]);
    const c = await RawNbdClient.connect(f.socket);
    await c.open('disk');
    const waiting = await RawNbdClient.connect(f.socket, false);
    const release = mem.gate('read');
    c.request({ type: 0, length: 4096, flags: 4 });
    await until(() => mem.inFlight === 1);
    let done = false;
    const closing = f.server.close().then(() => (done = true));
    expect(await c.closesSilently()).toBe(true);
    await settle();
    expect(done).toBe(false);
    release();
    await closing;
    expect(existsSync(f.socket)).toBe(false);
    await waiting.closed;
    await f[Symbol.asyncDispose]();
  });

  it('replaces a stale socket file when it starts', async () => {
    await using f = await startNbd([]);
    await f.server.close();
    writeFileSync(f.socket, 'stale');
    const again = await NbdServer.start({ address: { kind: 'unix', path: f.socket } });
    const c = await RawNbdClient.connect(f.socket);
    expect(c.greetingFlags).toBe(3);
    c.close();
    await again.close();
  });
});
