/**
 * Monitors over real sockets: unix and TCP, two monitors at once with events
 * reaching both, several clients on one socket, socat as an external client,
 * and QEMU's own qmp-shell giving the same answers from qmpd as from QSD.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, TestDaemon } from '../helpers/daemon.js';
import { QmpClient } from '../helpers/qmp-client.js';
import { skipWithout } from '../helpers/tools.js';

const QMP_SHELL = resolve(REPO, '../shared/tools/qmp-shell');

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('QMP monitors', () => {
  it('serve a TCP monitor and a unix monitor at once, and events reach both', async () => {
    const port = await freePort();
    await using d = await TestDaemon.start({
      args: [
        '--chardev', `socket,id=tcp0,host=127.0.0.1,port=${port},server=on,wait=off`, '--monitor', 'chardev=tcp0',
        '--blockdev', 'driver=null-co,node-name=n0,size=1048576',
        '--nbd-server', 'addr.type=unix,addr.path=nbd.sock',
        '--export', 'type=nbd,id=e0,node-name=n0',
      ],
    });
    const a = await d.connect();
    const b = await QmpClient.connect({ host: '127.0.0.1', port });
    const pending = await QmpClient.connect(d.socketPath, false); // still negotiating: gets no events
    expect(b.greeting).toEqual(a.greeting);
    expect(await b.execute('query-block-exports')).toEqual([{ id: 'e0', type: 'nbd', 'node-name': 'n0', 'shutting-down': false }]);
    await a.execute('block-export-del', { id: 'e0' });
    for (const c of [a, b]) {
      const ev = await c.waitEvent('BLOCK_EXPORT_DELETED');
      expect(ev.data).toEqual({ id: 'e0' });
      expect(ev.timestamp).toEqual({ seconds: expect.any(Number), microseconds: expect.any(Number) });
    }
    await pending.execute('qmp_capabilities');
    expect(await pending.execute('query-block-exports')).toEqual([]);
    expect(pending.events).toEqual([]);
    a.close();
    b.close();
    pending.close();
  });

  it('answers each client on one socket in its own session, replies in request order', async () => {
    await using d = await TestDaemon.start();
    const clients = await Promise.all([1, 2, 3].map(() => d.connect(false)));
    await clients[0]!.execute('qmp_capabilities');
    // client 1 is negotiated, client 2 is not: their sessions are independent
    expect((await clients[1]!.command('query-version', undefined, 'x')).error).toEqual({
      class: 'CommandNotFound',
      desc: "Expecting capabilities negotiation with 'qmp_capabilities'",
    });
    const c = clients[0]!;
    c.sendRaw(Array.from({ length: 200 }, (_, i) => JSON.stringify({ execute: i % 2 ? 'query-version' : 'nosuch', id: i })).join(''));
    for (let i = 0; i < 200; i++) expect((await c.next()).id).toBe(i);
    clients.forEach((x) => x.close());
  });

  it('removes its socket and pidfile and exits 0 on SIGTERM', async () => {
    const d = await TestDaemon.start({ args: ['--pidfile', 'qmpd.pid'] });
    const pidfile = join(d.dir, 'qmpd.pid');
    for (let i = 0; i < 100 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(pidfile)).toBe(true);
    d.proc.kill('SIGTERM');
    expect(await d.waitExit()).toBe(0);
    expect(existsSync(d.socketPath)).toBe(false);
    expect(existsSync(pidfile)).toBe(false);
    await d.stop();
  });

  it.skipIf(skipWithout('socat'))('talks to socat, which half-closes after its input', async () => {
    await using d = await TestDaemon.start();
    const out = execFileSync('socat', ['-t', '5', '-', `UNIX-CONNECT:${d.socketPath}`], {
      // query-named-block-nodes answers asynchronously, after socat has half-closed
      input: '{"execute":"qmp_capabilities"}\n{"execute":"query-commands","id":1}\n{"execute":"query-named-block-nodes"}\n{"execute":"quit"}\n',
      encoding: 'utf8',
    });
    const lines = out.trim().split('\r\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toHaveProperty('QMP');
    expect(lines[1]).toEqual({ return: {} });
    expect((lines[2]!.return as unknown[]).length).toBe(74);
    expect(lines[3]).toEqual({ return: [] });
    expect(lines[4]).toEqual({ return: {} });
    expect(await d.waitExit()).toBe(0);
  });
});

describe.skipIf(skipWithout('qemu-storage-daemon', 'python3'))('qmp-shell (QEMU\'s own client)', () => {
  const script = [
    'query-block',
    'blockdev-add driver=null-co node-name=n0 size=1048576',
    'blockdev-add driver=null-co node-name=n0',
    'query-named-block-nodes flat=true',
    'transaction( block-dirty-bitmap-add node=n0 name=b1 granularity=65536 )',
    'x-debug-block-dirty-bitmap-sha256 node=n0 name=b1',
    'block-dirty-bitmap-add node=n0 name=b1',
    'block-dirty-bitmap-remove node=nosuch name=b1',
    'blockdev-snapshot-sync node-name=nosuch snapshot-file=x.qcow2 snapshot-node-name=x',
    'transaction( abort )',
    'blockdev-del node-name=n0',
    'query-named-block-nodes',
    'nosuch-command',
    '',
  ].join('\n');

  function shell(socketPath: string): string[] {
    const r = spawnSync(QMP_SHELL, [socketPath], { input: script, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    // drop the banner (it names the QEMU version), keep one answer per command
    return r.stdout
      .split(/\(QEMU\) |TRANS> /)
      .slice(1)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  it.skipIf(!existsSync(QMP_SHELL))('gets the same answers from qmpd as from QSD', async () => {
    await using ours = await TestDaemon.start();
    await using theirs = await TestDaemon.start({ kind: 'qsd' });
    const a = shell(ours.socketPath);
    const b = shell(theirs.socketPath);
    expect(a.length).toBe(13);
    expect(a.map((x) => JSON.parse(x) as unknown)).toEqual(b.map((x) => JSON.parse(x) as unknown));
  });
});
