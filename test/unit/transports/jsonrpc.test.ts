import { describe, expect, it } from 'vitest';
import { Daemon } from '../../../src/daemon.js';
import { silentLogger } from '../../../src/log.js';
import { JsonRpcConnection, MAX_QUEUED_JOBS } from '../../../src/transports/jsonrpc.js';

function connection() {
  const daemon = new Daemon({ log: silentLogger() });
  const sent: string[] = [];
  const flow: string[] = [];
  const conn = new JsonRpcConnection({
    dispatcher: daemon.dispatcher,
    registry: daemon.registry,
    events: daemon.events,
    monitorId: 'test',
    log: silentLogger(),
    send: (t) => sent.push(t),
    pause: () => flow.push('pause'),
    resume: () => flow.push('resume'),
    onShutdownRequest: () => flow.push('shutdown'),
  });
  conn.start();
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return { daemon, conn, sent, flow, settle };
}

const feed = (conn: JsonRpcConnection, text: string) => conn.feedMessage(Buffer.from(text));

describe('JsonRpcConnection', () => {
  it('answers requests in arrival order', async () => {
    const { conn, sent, settle } = connection();
    for (let i = 0; i < 10; i++) feed(conn, `{"jsonrpc":"2.0","method":"query-version","id":${i}}`);
    await settle();
    expect(sent.map((s) => (JSON.parse(s) as { id: number }).id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('stops reading when its queue is full and reads again once it drains', async () => {
    const { conn, sent, flow, settle } = connection();
    for (let i = 0; i < MAX_QUEUED_JOBS + 10; i++) feed(conn, `{"jsonrpc":"2.0","method":"query-version","id":${i}}`);
    expect(flow).toEqual(['pause']);
    await settle();
    expect(flow).toEqual(['pause', 'resume']);
    expect(sent).toHaveLength(MAX_QUEUED_JOBS + 10);
  });

  it('answers each of several messages in one frame (as QMP does), and a parse error for the rest', async () => {
    const { conn, sent, settle } = connection();
    feed(conn, '{"jsonrpc":"2.0","method":"query-version","id":1} {"jsonrpc":"2.0","method":"query-version","id":2} {"x"');
    await settle();
    expect(sent.map((s) => JSON.parse(s) as { id: unknown; error?: { code: number } })).toMatchObject([
      { id: 1 },
      { id: 2 },
      { id: null, error: { code: -32700 } },
    ]);
  });

  it('asks for shutdown on quit and still answers it', async () => {
    const { conn, sent, flow, settle } = connection();
    feed(conn, '{"jsonrpc":"2.0","method":"quit","id":"q"}');
    await settle();
    expect(JSON.parse(sent[0]!)).toEqual({ jsonrpc: '2.0', result: {}, id: 'q' });
    expect(flow).toContain('shutdown');
  });

  it('turns an event into a notification without re-encoding it', () => {
    const { daemon, sent } = connection();
    daemon.events.emit('BLOCK_EXPORT_DELETED', { id: 'é' });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^\{"jsonrpc": "2.0", "method": "event", "params": \{"timestamp": .*"data": \{"id": "\\u00E9"\}\}\}$/);
  });

  it('sends nothing once closed, events included', async () => {
    const { daemon, conn, sent, settle } = connection();
    conn.close();
    feed(conn, '{"jsonrpc":"2.0","method":"query-version","id":1}');
    daemon.events.emit('BLOCK_EXPORT_DELETED', { id: 'x' });
    await settle();
    expect(sent).toEqual([]);
  });

  it('refuses batches larger than its limit in one error', async () => {
    const { conn, sent, settle } = connection();
    const batch = Array.from({ length: 257 }, (_, i) => ({ jsonrpc: '2.0', method: 'query-version', id: i }));
    feed(conn, JSON.stringify(batch));
    await settle();
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!)).toMatchObject({ id: null, error: { code: -32600 } });
  });
});
