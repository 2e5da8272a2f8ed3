/**
 * The JSON-RPC 2.0 dialect of GET /qmp (subprotocol `jsonrpc`), driven by the
 * `ws` client: results, error codes with the QMP class and text, batches,
 * notifications, and QMP events as notifications.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ApiDaemon } from '../helpers/api-daemon.js';

type Json = Record<string, unknown>;

class RpcClient {
  readonly received: Json[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse((data as Buffer).toString()) as Json);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(d: ApiDaemon): Promise<RpcClient> {
    const ws = new WebSocket(d.wsUrl, ['jsonrpc']);
    const c = new RpcClient(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe('jsonrpc');
    return c;
  }

  async take(match: (m: Json) => boolean = () => true): Promise<Json> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const i = this.received.findIndex(match);
      if (i >= 0) return this.received.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error('no matching JSON-RPC message');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async call(request: unknown): Promise<Json> {
    this.ws.send(typeof request === 'string' ? request : JSON.stringify(request));
    return this.take((m) => m.method !== 'event');
  }
}

describe('JSON-RPC 2.0 over WebSocket', () => {
  let d: ApiDaemon;
  let c: RpcClient;
  beforeAll(async () => {
    d = await ApiDaemon.start();
    c = await RpcClient.open(d);
  });
  afterAll(async () => {
    c.ws.close();
    await d[Symbol.asyncDispose]();
  });

  it('runs a command without greeting or negotiation and answers its result', async () => {
    const reply = await c.call({ jsonrpc: '2.0', method: 'query-version', id: 1 });
    expect(reply).toMatchObject({ jsonrpc: '2.0', id: 1, result: { qemu: { major: 7, minor: 2 } } });
    expect(c.received).toEqual([]);
  });

  it('answers an unknown method with -32601 and the QMP class and text in data', async () => {
    expect(await c.call({ jsonrpc: '2.0', method: 'nosuch', id: 'a' })).toEqual({
      jsonrpc: '2.0',
      id: 'a',
      error: {
        code: -32601,
        message: 'The command nosuch has not been found',
        data: { class: 'CommandNotFound', desc: 'The command nosuch has not been found' },
      },
    });
  });

  it('answers arguments the schema refuses with -32602 and QEMU\'s text', async () => {
    const reply = await c.call({ jsonrpc: '2.0', method: 'query-version', params: { bogus: 1 }, id: 2 });
    expect(reply.error).toEqual({
      code: -32602,
      message: "Parameter 'bogus' is unexpected",
      data: { class: 'GenericError', desc: "Parameter 'bogus' is unexpected" },
    });
  });

  it('answers a command that fails after validation with -32000', async () => {
    const reply = await c.call({ jsonrpc: '2.0', method: 'qmp_capabilities', id: 3 });
    expect(reply.error).toMatchObject({ code: -32601, data: { class: 'CommandNotFound' } });
    const del = await c.call({ jsonrpc: '2.0', method: 'blockdev-del', params: { 'node-name': 'nosuch' }, id: 4 });
    expect(del.error).toMatchObject({ code: -32000, data: { class: 'GenericError' } });
  });

  it('answers malformed JSON with -32700 and id null', async () => {
    const reply = await c.call('{"jsonrpc": "2.0", "method": ');
    expect(reply).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700, data: { class: 'GenericError' } } });
  });

  it.each([
    ['a request without jsonrpc "2.0"', { method: 'query-version', id: 5 }],
    ['a method that is not a string', { jsonrpc: '2.0', method: 1, id: 5 }],
    ['an unexpected member', { jsonrpc: '2.0', method: 'query-version', id: 5, extra: true }],
  ])('answers %s with -32600', async (_what, request) => {
    const reply = await c.call(request);
    expect(reply).toMatchObject({ id: 5, error: { code: -32600 } });
  });

  it('answers positional params with -32602', async () => {
    expect(await c.call({ jsonrpc: '2.0', method: 'query-version', params: [1], id: 6 })).toMatchObject({
      id: 6,
      error: { code: -32602 },
    });
  });

  it('sends nothing back for a notification, but runs it', async () => {
    const before = await d.metric('qmpd_commands_total{command="query-version",outcome="ok"}');
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'query-version' }));
    const reply = await c.call({ jsonrpc: '2.0', method: 'query-commands', id: 7 });
    expect(reply.id).toBe(7);
    expect(await d.metric('qmpd_commands_total{command="query-version",outcome="ok"}')).toBe(before + 1);
  });

  it('answers a batch with an array of responses in order, leaving out notifications', async () => {
    c.ws.send(
      JSON.stringify([
        { jsonrpc: '2.0', method: 'query-version', id: 'x' },
        { jsonrpc: '2.0', method: 'query-version' },
        { jsonrpc: '2.0', method: 'nosuch', id: 'y' },
        42,
      ]),
    );
    const batch = (await c.take()) as unknown as Json[];
    expect(batch.map((r) => r.id)).toEqual(['x', 'y', null]);
    expect(batch[1]!.error).toMatchObject({ code: -32601 });
    expect(batch[2]!.error).toMatchObject({ code: -32600 });
  });

  it('answers an empty batch with one -32600 error', async () => {
    expect(await c.call('[]')).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('keeps big integer ids exact', async () => {
    c.ws.send('{"jsonrpc":"2.0","method":"query-version","id":18446744073709551615}');
    const raw = await new Promise<string>((resolve) => c.ws.once('message', (m) => resolve((m as Buffer).toString())));
    expect(raw).toContain('"id": 18446744073709551615');
    await c.take();
  });

  it('delivers QMP events as "event" notifications', async () => {
    d.daemon.events.emit('BLOCK_EXPORT_DELETED', { id: 'exp1' });
    const n = await c.take((m) => m.method === 'event');
    expect(n).toMatchObject({ jsonrpc: '2.0', method: 'event', params: { event: 'BLOCK_EXPORT_DELETED', data: { id: 'exp1' } } });
    expect(n).not.toHaveProperty('id');
    expect(n.params).toHaveProperty('timestamp.seconds');
  });
});
