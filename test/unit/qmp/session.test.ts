import { describe, expect, it } from 'vitest';
import { loadSchemaRuntime } from '../../../src/qapi/schema-runtime.js';
import { Dispatcher } from '../../../src/qmp/dispatch.js';
import { EventBus } from '../../../src/qmp/events.js';
import { registerControlCommands } from '../../../src/qmp/commands/control.js';
import { CommandRegistry } from '../../../src/qmp/registry.js';
import { MAX_QUEUED_REQUESTS, QmpSession } from '../../../src/qmp/session.js';
import { silentLogger } from '../../../src/log.js';

const runtime = loadSchemaRuntime();

function setup(slowVersion = false) {
  const registry = new CommandRegistry(runtime);
  registerControlCommands(registry);
  if (slowVersion) {
    // a handler that answers later: replies must still come in request order
    registry.register('query-block', () => new Promise((r) => setTimeout(() => r([]), 20)));
  }
  registry.registerUnsupported((n) => `Command ${n} is not supported by qmpd`);
  const events = new EventBus();
  const out: Record<string, unknown>[] = [];
  const flow: string[] = [];
  let shutdown = 0;
  const session = new QmpSession({
    io: {
      write: (t) => out.push(...t.trim().split('\r\n').map((l) => JSON.parse(l) as Record<string, unknown>)),
      pause: () => flow.push('pause'),
      resume: () => flow.push('resume'),
    },
    dispatcher: new Dispatcher(registry),
    events,
    greeting: { QMP: { version: {}, capabilities: ['oob'] } },
    monitorId: 't',
    log: silentLogger(),
    onShutdownRequest: () => shutdown++,
  });
  session.start();
  const send = (o: unknown) => session.feed(Buffer.from(JSON.stringify(o)));
  return { session, out, flow, events, send, shutdowns: () => shutdown };
}

describe('QmpSession', () => {
  it('greets first and refuses everything but qmp_capabilities while negotiating', () => {
    const { out, send } = setup();
    expect(out[0]).toHaveProperty('QMP');
    send({ execute: 'query-version', id: 1 });
    send({ execute: 'nosuch', id: 2 });
    send({ execute: 'qmp_capabilities', arguments: { enable: ['foo'] }, id: 3 });
    expect(out.slice(1)).toEqual([
      { id: 1, error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } },
      { id: 2, error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } },
      { id: 3, error: { class: 'GenericError', desc: "Parameter 'null' does not accept value 'foo'" } },
    ]);
  });

  it('enters command mode once, then refuses a second negotiation', () => {
    const { out, send } = setup();
    send({ execute: 'qmp_capabilities' });
    send({ execute: 'qmp_capabilities' });
    expect(out.slice(1)).toEqual([
      { return: {} },
      { error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' } },
    ]);
  });

  it('delivers events only after negotiation', () => {
    const { out, send, events } = setup();
    events.emit('BLOCK_EXPORT_DELETED', { id: 'a' });
    send({ execute: 'qmp_capabilities' });
    events.emit('BLOCK_EXPORT_DELETED', { id: 'b' });
    const evs = out.filter((m) => 'event' in m);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.data).toEqual({ id: 'b' });
  });

  it('keeps replies in request order when a handler answers later', async () => {
    const { out, send, session } = setup(true);
    send({ execute: 'qmp_capabilities' });
    send({ execute: 'query-block', id: 'slow' });
    send({ execute: 'query-version', id: 'fast' });
    await new Promise<void>((r) => session.whenIdle(r));
    expect(out.slice(2).map((m) => m.id)).toEqual(['slow', 'fast']);
  });

  it('lets exec-oob bypass a busy in-band queue once OOB is enabled', async () => {
    const { out, send, session } = setup(true);
    send({ execute: 'qmp_capabilities', arguments: { enable: ['oob'] } });
    send({ execute: 'query-block', id: 'inband' });
    send({ 'exec-oob': 'query-version', id: 'oob' });
    expect(out.at(-1)).toEqual({ id: 'oob', error: { class: 'GenericError', desc: 'The command query-version does not support OOB' } });
    await new Promise<void>((r) => session.whenIdle(r));
    expect(out.at(-1)!.id).toBe('inband');
  });

  it('stops reading when too many requests wait, and resumes when they drain', async () => {
    const { flow, send, session } = setup(true);
    send({ execute: 'qmp_capabilities' });
    for (let i = 0; i < MAX_QUEUED_REQUESTS + 2; i++) send({ execute: 'query-block', id: i });
    expect(flow).toEqual(['pause']);
    await new Promise<void>((r) => session.whenIdle(r));
    expect(flow).toEqual(['pause', 'resume']);
  });

  it('asks for shutdown on quit after answering', async () => {
    const { out, send, session, shutdowns } = setup();
    send({ execute: 'qmp_capabilities' });
    send({ execute: 'quit', id: 'q' });
    await new Promise<void>((r) => session.whenIdle(r));
    expect(out.at(-1)).toEqual({ return: {}, id: 'q' });
    expect(shutdowns()).toBe(1);
  });
});
