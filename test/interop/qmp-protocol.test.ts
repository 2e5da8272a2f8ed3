/**
 * The QMP protocol, one suite run over every transport that carries a QMP
 * monitor: the unix socket and a WebSocket. The same inputs must give the
 * same replies, byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiDaemon } from '../helpers/api-daemon.js';
import type { MessageClient } from '../helpers/message-client.js';

const transports: { name: string; connect: (d: ApiDaemon) => Promise<MessageClient> }[] = [
  { name: 'a unix socket', connect: (d) => d.connectUnix() },
  { name: 'a WebSocket', connect: (d) => d.connectWs() },
  { name: "a WebSocket with subprotocol 'qmp'", connect: (d) => d.connectWs(['qmp']) },
];

describe.each(transports)('QMP over $name', ({ connect }) => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start();
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  async function negotiated(): Promise<MessageClient> {
    const c = await connect(d);
    await c.next();
    expect(await c.command('qmp_capabilities')).toEqual({ return: {} });
    return c;
  }

  it('greets with the QMP banner before the client says anything', async () => {
    const c = await connect(d);
    const greeting = await c.nextReply();
    expect(greeting.raw).toMatch(/^\{"QMP": \{"version": \{"qemu": \{"micro": \d+, "minor": \d+, "major": \d+\}, "package": "[^"]*"\}, "capabilities": \["oob"\]\}\}$/);
    c.close();
  });

  it('answers every command but qmp_capabilities with CommandNotFound while negotiating', async () => {
    const c = await connect(d);
    await c.next();
    c.send('{"execute":"query-version","id":1}');
    expect((await c.nextReply()).raw).toBe(
      `{"id": 1, "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}`,
    );
    expect(await c.command('qmp_capabilities')).toEqual({ return: {} });
    expect(await c.command('qmp_capabilities')).toEqual({
      error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' },
    });
    const version = await c.command('query-version');
    expect(version.return).toHaveProperty('qemu');
    c.close();
  });

  it.each([
    ['an integer', '42'],
    ['a negative integer', '-7'],
    ['the largest uint64', '18446744073709551615'],
    ['the smallest int64', '-9223372036854775808'],
    ['a double', '3.5'],
    ['a string', '"abc"'],
    ['a string with non-ASCII characters', '"\\u00E9\\uD83D\\uDE00"'],
    ['true', 'true'],
    ['false', 'false'],
    ['null', 'null'],
    ['an array', '[1, "a", [], {}]'],
    ['an object', '{"k": {"n": [null]}}'],
  ])('echoes %s as the id, exactly', async (_what, id) => {
    const c = await negotiated();
    c.send(`{"execute":"nosuch","id":${id}}`);
    expect((await c.nextReply()).raw).toBe(
      `{"id": ${id}, "error": {"class": "CommandNotFound", "desc": "The command nosuch has not been found"}}`,
    );
    c.close();
  });

  it('reports envelope errors with QEMU texts and the id', async () => {
    const c = await negotiated();
    const cases: [string, string][] = [
      ['[1]', `{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}`],
      ['{"id":5}', `{"id": 5, "error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}`],
      ['{"execute":1}', `{"error": {"class": "GenericError", "desc": "QMP input member 'execute' must be a string"}}`],
      [
        '{"execute":"query-version","arguments":[]}',
        `{"error": {"class": "GenericError", "desc": "QMP input member 'arguments' must be an object"}}`,
      ],
      ['{"execute":"query-version","foo":1}', `{"error": {"class": "GenericError", "desc": "QMP input member 'foo' is unexpected"}}`],
    ];
    for (const [input, expected] of cases) {
      c.send(input);
      expect((await c.nextReply()).raw).toBe(expected);
    }
    c.close();
  });

  it('answers an unknown command with CommandNotFound', async () => {
    const c = await negotiated();
    expect(await c.command('QUERY-VERSION')).toEqual({
      error: { class: 'CommandNotFound', desc: 'The command QUERY-VERSION has not been found' },
    });
    c.close();
  });

  it('answers malformed JSON with parse errors and keeps working', async () => {
    const c = await negotiated();
    c.send('{"execute":"query-version","id":01}');
    expect(await c.next()).toEqual({ error: { class: 'GenericError', desc: "JSON parse error, stray '01'" } });
    expect(await c.next()).toEqual({ error: { class: 'GenericError', desc: 'JSON parse error, expecting value' } });
    // A bare word ends at a delimiter on a byte stream; a frame's end also ends it.
    c.send('garbage\n');
    expect(await c.next()).toEqual({ error: { class: 'GenericError', desc: "JSON parse error, invalid keyword 'garbage'" } });
    c.send('{"execute":"query-version","id":"after"}');
    const reply = await c.next();
    expect(reply.id).toBe('after');
    expect(reply.return).toHaveProperty('qemu');
    c.close();
  });

  it('answers pipelined commands in order', async () => {
    const c = await negotiated();
    for (let i = 0; i < 50; i++) c.send(`{"execute":"query-version","id":${i}}`);
    for (let i = 0; i < 50; i++) expect((await c.next()).id).toBe(i);
    c.close();
  });

  it('delivers events to negotiated sessions only', async () => {
    const waiting = await connect(d);
    await waiting.next();
    const c = await negotiated();
    d.daemon.events.emit('BLOCK_EXPORT_DELETED', { id: 'exp0' });
    const event = await c.waitEvent('BLOCK_EXPORT_DELETED');
    expect(event.data).toEqual({ id: 'exp0' });
    expect(Object.keys(event)).toEqual(['timestamp', 'event', 'data']);
    // The negotiating session got nothing: its next message is the reply to this command.
    expect((await waiting.command('qmp_capabilities')).return).toEqual({});
    expect(waiting.events).toEqual([]);
    c.close();
    waiting.close();
  });
});
