/**
 * What a WebSocket client cannot do to the daemon: send binary or invalid
 * UTF-8 or oversized frames (closed with the RFC 6455 code for each), make
 * it buffer without bound by not reading (closed with 1008), or break it with
 * a flood of malformed messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiDaemon } from '../helpers/api-daemon.js';
import { encodeFrame, Opcode, RawWebSocket } from '../helpers/raw-ws.js';

const MAX_MESSAGE = 64 * 1024;
const HIGH_WATER = 64 * 1024;
const MAX_BUFFERED = 256 * 1024;

describe('WebSocket limits', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start({
      limits: { wsMaxMessageBytes: MAX_MESSAGE, wsOutputHighWater: HIGH_WATER, wsMaxBufferedBytes: MAX_BUFFERED },
    });
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  async function opened(protocol?: string): Promise<RawWebSocket> {
    const { ws, handshake } = await RawWebSocket.open(d.port, protocol ? { 'Sec-WebSocket-Protocol': protocol } : {});
    expect(handshake.status).toBe(101);
    if (protocol !== 'jsonrpc') await ws.nextFrame();
    return ws;
  }

  it.each(['qmp', 'jsonrpc'])('closes with 1003 on a binary frame (%s)', async (protocol) => {
    const ws = await opened(protocol);
    ws.sendFrame(Opcode.Binary, '{"execute":"qmp_capabilities"}');
    expect((await ws.closeFrame()).code).toBe(1003);
    ws.destroy();
  });

  it.each([
    ['a binary frame', 1003, () => encodeFrame(Opcode.Binary, Buffer.from('{}'))],
    ['invalid UTF-8', 1007, () => encodeFrame(Opcode.Text, Buffer.from([0x7b, 0xff, 0x7d]))],
  ])('answers the requests before %s in the same TCP chunk, then closes', async (_what, code, bad) => {
    const ws = await opened();
    const requests = [0, 1, 2].map((id) => encodeFrame(Opcode.Text, Buffer.from(`{"execute":"qmp_capabilities","id":${id}}`)));
    ws.socket.write(Buffer.concat([...requests, bad()]));
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(JSON.parse((await ws.nextFrame()).payload.toString()) as unknown);
    expect(replies).toEqual([
      { return: {}, id: 0 },
      { id: 1, error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' } },
      { id: 2, error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' } },
    ]);
    expect((await ws.closeFrame()).code).toBe(code);
    ws.destroy();
  });

  it('closes with 1007 on a text frame that is not UTF-8', async () => {
    const ws = await opened();
    ws.sendFrame(Opcode.Text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await ws.closeFrame()).code).toBe(1007);
    ws.destroy();
  });

  it('closes with 1009 on a message over the size limit', async () => {
    const ws = await opened();
    ws.sendText(`{"execute":"qmp_capabilities","id":"${'x'.repeat(MAX_MESSAGE)}"}`);
    expect((await ws.closeFrame()).code).toBe(1009);
    ws.destroy();
  });

  it('accepts a message just under the size limit', async () => {
    const ws = await opened();
    const id = 'x'.repeat(MAX_MESSAGE - 100);
    ws.sendText(`{"execute":"qmp_capabilities","id":"${id}"}`);
    expect(JSON.parse((await ws.nextFrame()).payload.toString())).toEqual({ return: {}, id });
    ws.destroy();
  });

  it('disconnects a client that stops reading once its unsent output passes the limit, with 1008', async () => {
    const ws = await opened();
    ws.sendText('{"execute":"qmp_capabilities"}');
    await ws.nextFrame();
    ws.socket.pause();
    // Events keep coming whether or not the client reads; 16 KiB each, bounded in count.
    const payload = 'e'.repeat(16 * 1024);
    const before = await d.metric('qmpd_monitors_open{transport="ws"}');
    for (let i = 0; i < 4000 && (await d.metric('qmpd_monitors_open{transport="ws"}')) === before; i += 50) {
      for (let j = 0; j < 50; j++) d.daemon.events.emit('BLOCK_EXPORT_DELETED', { id: payload });
      await new Promise((r) => setImmediate(r));
    }
    ws.socket.resume();
    expect((await ws.closeFrame(30_000)).code).toBe(1008);
    ws.destroy();
  });
});

// With the default limits: one 64 KiB chunk of tiny bad frames makes about a megabyte of replies.
describe('a flood of malformed WebSocket messages', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start();
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('stays healthy after 10,000 malformed messages and answers the next command', async () => {
    const { ws } = await RawWebSocket.open(d.port);
    await ws.nextFrame();
    ws.sendText('{"execute":"qmp_capabilities"}');
    await ws.nextFrame();
    const bad = ['{', '}', '{"execute":', 'nul', '[1,]', '{"a" 1}', '\u0001', '"\\x"', '{"execute":1}', '[[[[['];
    for (let i = 0; i < 10_000; i++) ws.sendText(bad[i % bad.length]!);
    ws.sendText('{"execute":"query-version","id":"last"}');
    let replies = 0;
    for (;;) {
      const frame = await ws.nextFrame(30_000);
      replies++;
      const msg = JSON.parse(frame.payload.toString()) as { id?: string; return?: unknown };
      if (msg.id === 'last') {
        expect(msg.return).toHaveProperty('qemu');
        break;
      }
    }
    expect(replies).toBeGreaterThan(10_000);
    ws.destroy();
    expect((await d.fetch('/healthz')).status).toBe(200);
    const res = await d.post('/api/v1/qmp', '{"execute":"query-version"}');
    expect(res.status).toBe(200);
  });
});
