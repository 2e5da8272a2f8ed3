/**
 * The HTTP side with `fetch`: one-shot QMP, the REST form of commands, status
 * codes for bad bodies, and the read-only documents (health, metrics, schema,
 * OpenAPI).
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiDaemon } from '../helpers/api-daemon.js';

describe('POST /api/v1/qmp', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start({ limits: { bodyLimit: 4096 } });
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('answers a command with its QMP reply, the id echoed exactly', async () => {
    const res = await d.post('/api/v1/qmp', '{"execute":"query-version","id":18446744073709551615}');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text).toMatch(/^\{"return": \{"qemu": .*\}, "id": 18446744073709551615\}$/);
  });

  it('answers a QMP error with status 200 and the QMP error body', async () => {
    const res = await d.post('/api/v1/qmp', '{"execute":"query-version","arguments":{"x":1}}');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`{"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}`);
  });

  it('needs no negotiation: qmp_capabilities says it is already complete', async () => {
    const res = await d.post('/api/v1/qmp', '{"execute":"qmp_capabilities"}');
    expect(await res.json()).toEqual({
      error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' },
    });
  });

  it.each([
    ['a JSON array', '[1]', 'QMP input must be a JSON object'],
    ['an object without execute', '{"id":1}', "QMP input lacks member 'execute'"],
    ['an unexpected member', '{"execute":"query-version","x":1}', "QMP input member 'x' is unexpected"],
    ['exec-oob (no OOB over HTTP)', '{"exec-oob":"query-version"}', "QMP input member 'exec-oob' is unexpected"],
    ['malformed JSON', '{"execute":', 'JSON parse error, premature EOI'],
    ['two JSON values', '{"execute":"query-version"} {}', 'HTTP request body must hold exactly one JSON value'],
    ['an empty body', '', 'HTTP request body is empty: expected one command object'],
  ])('answers %s with 400 and a QMP error', async (_what, body, desc) => {
    const res = await d.post('/api/v1/qmp', body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { desc: string } }).error.desc).toBe(desc);
  });

  it('answers a body over the limit with 413', async () => {
    const res = await d.post('/api/v1/qmp', `{"execute":"query-version","id":"${'x'.repeat(5000)}"}`);
    expect(res.status).toBe(413);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'answers content type %s with 415 and runs nothing',
    async (type) => {
      const before = await d.metric('qmpd_commands_total{command="query-version",outcome="ok"}');
      const res = await d.post('/api/v1/qmp', '{"execute":"query-version"}', { 'content-type': type });
      expect(res.status).toBe(415);
      expect(await d.metric('qmpd_commands_total{command="query-version",outcome="ok"}')).toBe(before);
    },
  );

  it('accepts application/json with a charset parameter', async () => {
    const res = await d.post('/api/v1/qmp', '{"execute":"query-version"}', { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
  });
});

describe('POST /api/v1/commands/{name}', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start();
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('runs the command with the body as its arguments', async () => {
    const res = await d.post('/api/v1/commands/query-named-block-nodes', '{"flat":true}');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ return: [] });
  });

  it('takes an empty body without a content type as no arguments', async () => {
    const res = await d.fetch('/api/v1/commands/query-version', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('return.qemu.major', 7);
  });

  it('answers argument errors with status 200 and QEMU\'s text', async () => {
    const res = await d.post('/api/v1/commands/query-named-block-nodes', '{"flat":"yes"}');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      error: { class: 'GenericError', desc: "Invalid parameter type for 'flat', expected: boolean" },
    });
  });

  it('answers arguments that are not an object with 400', async () => {
    const res = await d.post('/api/v1/commands/query-version', '[]');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { class: 'GenericError', desc: "QMP input member 'arguments' must be an object" } });
  });

  it('answers an unknown command with 404 and CommandNotFound', async () => {
    const res = await d.post('/api/v1/commands/nosuch', '{}');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { class: 'CommandNotFound', desc: 'The command nosuch has not been found' } });
  });
});

describe('the read-only documents', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start();
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('answers /healthz with 200', async () => {
    const res = await d.fetch('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('serves Prometheus metrics: commands by name and outcome, latency, monitors by transport, block hooks', async () => {
    await d.post('/api/v1/qmp', '{"execute":"query-version"}');
    await d.post('/api/v1/qmp', '{"execute":"nosuch-1"}');
    const ws = await d.connectWs();
    await ws.next();
    d.daemon.metrics.setBlockSources({ nodes: () => 3, exports: () => 1, inflightIo: () => 2 });
    d.daemon.metrics.exportRead('exp0', 4096);
    d.daemon.metrics.exportWritten('exp0', 512);
    d.daemon.metrics.transaction('committed');
    const res = await d.fetch('/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('qmpd_commands_total{command="query-version",outcome="ok"} 1');
    expect(text).toContain('qmpd_commands_total{command="_unknown",outcome="CommandNotFound"} 1');
    expect(text).toContain('qmpd_command_duration_seconds_count{command="query-version"} 1');
    expect(text).toContain('qmpd_monitors_open{transport="ws"} 1');
    expect(text).toContain('qmpd_block_nodes 3');
    expect(text).toContain('qmpd_block_exports 1');
    expect(text).toContain('qmpd_block_inflight_io 2');
    expect(text).toContain('qmpd_export_read_bytes_total{export="exp0"} 4096');
    expect(text).toContain('qmpd_export_written_bytes_total{export="exp0"} 512');
    expect(text).toContain('qmpd_transactions_total{outcome="committed"} 1');
    expect(text).toContain('qmpd_transactions_total{outcome="aborted"} 0');
    ws.close();
    await ws.closed;
    await expect.poll(() => d.metric('qmpd_monitors_open{transport="ws"}')).toBe(0);
  });

  it('counts unix socket monitors while they are open', async () => {
    const c = await d.connectUnix();
    await c.next();
    expect(await d.metric('qmpd_monitors_open{transport="unix"}')).toBe(1);
    c.close();
    await c.closed;
    await expect.poll(() => d.metric('qmpd_monitors_open{transport="unix"}')).toBe(0);
  });

  it('serves the introspection data and a JSON Schema for every command', async () => {
    const doc = (await (await d.fetch('/api/v1/schema')).json()) as {
      introspection: { name: string; 'meta-type': string }[];
      commands: Record<string, unknown>;
      definitions: { $defs: Record<string, unknown> };
    };
    const names = ((await (await d.post('/api/v1/qmp', '{"execute":"query-commands"}')).json()) as { return: { name: string }[] }).return;
    expect(Object.keys(doc.commands).sort()).toEqual(names.map((n) => n.name).sort());
    expect(doc.introspection.filter((e) => e['meta-type'] === 'command')).toHaveLength(names.length);
    expect(doc.definitions.$defs).toHaveProperty('BlockdevOptions');
  });

  it('serves an OpenAPI 3.1 document with a path per command whose $refs all resolve', async () => {
    const doc = (await (await d.fetch('/api/v1/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths).toHaveProperty(['/api/v1/commands/blockdev-add', 'post', 'requestBody']);
    expect(doc.paths).toHaveProperty(['/api/v1/qmp', 'post']);
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]*"/g) ?? [];
    expect(refs.length).toBeGreaterThan(100);
    for (const r of new Set(refs)) {
      const target = r.slice('"$ref":"'.length, -1);
      expect(target.startsWith('#/components/schemas/'), target).toBe(true);
      expect(doc.components.schemas, target).toHaveProperty([target.slice('#/components/schemas/'.length)]);
    }
  });

  it('answers an unknown path with 404', async () => {
    expect((await d.fetch('/nosuch')).status).toBe(404);
  });
});

describe('HTTP on a unix socket', () => {
  it('serves the same API to a client that connects to the socket path', async () => {
    await using d = await ApiDaemon.start({ unixHttp: true });
    const body = '{"execute":"query-version"}';
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath: `${d.dir}/http.sock`,
          path: '/api/v1/qmp',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toHaveProperty('return.qemu');
  });
});

describe('quit over HTTP', () => {
  it('answers, then says goodbye to WebSocket clients with 1001 and stops the daemon', async () => {
    await using d = await ApiDaemon.start();
    const ws = await d.connectWs();
    await ws.next();
    const res = await d.post('/api/v1/qmp', '{"execute":"quit","id":"bye"}');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ return: {}, id: 'bye' });
    expect((await ws.closed).code).toBe(1001);
    await d.daemon.stopped;
    await expect(d.fetch('/healthz')).rejects.toThrow();
  });
});

describe('during startup', () => {
  it('holds commands and WebSocket greetings until every startup option is applied', async () => {
    const { Daemon } = await import('../../src/daemon.js');
    const { silentLogger } = await import('../../src/log.js');
    const { startHttp } = await import('../../src/transports/http-cli.js');
    const { WsMessageClient } = await import('../helpers/message-client.js');
    const daemon = new Daemon({ log: silentLogger(), greetAfterStartup: true });
    try {
      const http = await startHttp(daemon, { address: { kind: 'tcp', host: '127.0.0.1', port: 0 }, token: undefined, allowedOrigins: [] });
      const order: string[] = [];
      const answered = fetch(new URL('/api/v1/qmp', http.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"execute":"query-version"}',
      }).then((r) => (order.push('reply'), r.status));
      const greeted = WsMessageClient.connect(`ws://127.0.0.1:${http.port}/qmp`).then(async (c) => {
        await c.next();
        order.push('greeting');
        c.close();
      });
      expect((await fetch(new URL('/healthz', http.url))).status).toBe(200);
      order.push('started');
      daemon.started();
      expect(await answered).toBe(200);
      await greeted;
      expect(order[0]).toBe('started');
      expect(order).toHaveLength(3);
    } finally {
      await daemon.shutdown();
    }
  });
});
