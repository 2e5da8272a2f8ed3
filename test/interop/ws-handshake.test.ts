/**
 * The WebSocket upgrade as a raw TCP client sees it: the RFC 6455 handshake,
 * subprotocol selection, and refusals answered with plain HTTP before any
 * WebSocket traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiDaemon } from '../helpers/api-daemon.js';
import { acceptFor, Opcode, RawWebSocket } from '../helpers/raw-ws.js';

describe('the WebSocket handshake', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start();
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('switches protocols with the right accept key, then greets in a text frame', async () => {
    const { ws, handshake, key } = await RawWebSocket.open(d.port);
    expect(handshake.status).toBe(101);
    expect(handshake.headers['sec-websocket-accept']).toBe(acceptFor(key));
    expect(handshake.headers['sec-websocket-protocol']).toBeUndefined();
    const greeting = await ws.nextFrame();
    expect(greeting.opcode).toBe(Opcode.Text);
    expect(greeting.fin).toBe(true);
    expect(JSON.parse(greeting.payload.toString())).toHaveProperty('QMP.capabilities', ['oob']);
    ws.sendText('{"execute":"qmp_capabilities","id":"neg"}');
    const reply = await ws.nextFrame();
    expect(reply.payload.toString()).toBe('{"return": {}, "id": "neg"}');
    ws.destroy();
  });

  it('answers a message split over continuation frames once it is complete', async () => {
    const { ws } = await RawWebSocket.open(d.port);
    await ws.nextFrame();
    ws.sendFrame(Opcode.Text, '{"execute":"qmp_cap', false);
    ws.sendFrame(0x0, 'abilities"}', true);
    expect((await ws.nextFrame()).payload.toString()).toBe('{"return": {}}');
    ws.destroy();
  });

  it("echoes the subprotocol 'qmp' or 'jsonrpc' that the client chose", async () => {
    for (const p of ['qmp', 'jsonrpc']) {
      const { ws, handshake } = await RawWebSocket.open(d.port, { 'Sec-WebSocket-Protocol': `${p}, other` });
      expect(handshake.status).toBe(101);
      expect(handshake.headers['sec-websocket-protocol']).toBe(p);
      ws.destroy();
    }
  });

  it('refuses an upgrade offering only unknown subprotocols with 400', async () => {
    const { handshake } = await RawWebSocket.open(d.port, { 'Sec-WebSocket-Protocol': 'mqtt' });
    expect(handshake.status).toBe(400);
    expect(handshake.body).toContain('unsupported subprotocol');
  });

  it('refuses an upgrade on any other path with 404', async () => {
    const { handshake } = await RawWebSocket.open(d.port, {}, '/api/v1/qmp');
    expect(handshake.status).toBe(404);
  });

  it('refuses an upgrade with a bad Sec-WebSocket-Version with 400', async () => {
    const { handshake } = await RawWebSocket.open(d.port, { 'Sec-WebSocket-Version': '7' });
    expect(handshake.status).toBe(400);
  });

  it('answers GET /qmp without an upgrade with 426', async () => {
    const res = await d.fetch('/qmp');
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
  });

  it('answers pings with pongs carrying the same data', async () => {
    const { ws } = await RawWebSocket.open(d.port);
    await ws.nextFrame();
    ws.sendFrame(Opcode.Ping, 'hello');
    const pong = await ws.nextFrame();
    expect(pong.opcode).toBe(Opcode.Pong);
    expect(pong.payload.toString()).toBe('hello');
    ws.destroy();
  });
});
