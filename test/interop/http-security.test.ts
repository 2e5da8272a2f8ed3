/**
 * Safe by default: the token (header or WebSocket subprotocol), the Origin
 * check on upgrades, the Host check against DNS rebinding, CORS only for
 * allowed origins, and request logs without secrets.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiDaemon } from '../helpers/api-daemon.js';
import { RawWebSocket } from '../helpers/raw-ws.js';

const TOKEN = randomBytes(24).toString('base64url');
const QUIT = '{"execute":"quit"}';

/** node:http, because fetch does not let a caller set Host. */
function postWithHost(port: number, host: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/api/v1/qmp', method: 'POST', headers: { host, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('with a token', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start({ token: TOKEN });
    d.authHeader = { authorization: `Bearer ${TOKEN}` };
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  async function commandsRun(): Promise<number> {
    const text = await (await d.fetch('/metrics', { headers: d.authHeader })).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('qmpd_commands_total{'))
      .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
  }

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: `Bearer ${TOKEN}x` }],
    ['a token prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['another scheme', { authorization: `Basic ${TOKEN}` }],
  ])('answers %s with 401 and runs no command', async (_what, headers: Record<string, string>) => {
    const before = await commandsRun();
    const res = await d.post('/api/v1/qmp', QUIT, headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const rest = await d.post('/api/v1/commands/quit', '{}', headers);
    expect(rest.status).toBe(401);
    expect(await commandsRun()).toBe(before);
    expect((await d.fetch('/healthz')).status).toBe(200);
  });

  it('runs a command given the right bearer token', async () => {
    const res = await d.post('/api/v1/qmp', '{"execute":"query-version"}', d.authHeader);
    expect(res.status).toBe(200);
  });

  it('lets /healthz through without the token, but not /metrics or the schema', async () => {
    expect((await d.fetch('/healthz')).status).toBe(200);
    expect((await d.fetch('/metrics')).status).toBe(401);
    expect((await d.fetch('/api/v1/openapi.json')).status).toBe(401);
  });

  it('refuses a WebSocket upgrade without a token with 401', async () => {
    const { handshake } = await RawWebSocket.open(d.port);
    expect(handshake.status).toBe(401);
    const wrong = await RawWebSocket.open(d.port, { 'Sec-WebSocket-Protocol': `qmp, qmpd.token.${TOKEN}x` });
    expect(wrong.handshake.status).toBe(401);
  });

  it('accepts the token as Authorization on the upgrade', async () => {
    const c = await d.connectWs(undefined, { authorization: `Bearer ${TOKEN}` });
    expect(await c.next()).toHaveProperty('QMP');
    c.close();
  });

  it('accepts the token as an extra subprotocol and never echoes it', async () => {
    const c = await d.connectWs(['qmp', `qmpd.token.${TOKEN}`]);
    expect(c.ws.protocol).toBe('qmp');
    expect(await c.next()).toHaveProperty('QMP');
    c.close();
    const raw = await RawWebSocket.open(d.port, { 'Sec-WebSocket-Protocol': `qmpd.token.${TOKEN}, jsonrpc` });
    expect(raw.handshake.status).toBe(101);
    expect(raw.handshake.headers['sec-websocket-protocol']).toBe('jsonrpc');
    raw.ws.destroy();
  });

  it('does not check the Host header (the token already stops DNS rebinding)', async () => {
    const { handshake, ws } = await RawWebSocket.open(d.port, { Host: 'qmpd.example:80', Authorization: `Bearer ${TOKEN}` });
    expect(handshake.status).toBe(101);
    ws.destroy();
  });
});

describe('without a token, on loopback', () => {
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start({ captureLogs: true });
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('refuses a cross-origin WebSocket upgrade with 403', async () => {
    const { handshake } = await RawWebSocket.open(d.port, { Origin: 'http://evil.example' });
    expect(handshake.status).toBe(403);
    await expect(d.connectWs(undefined, { origin: 'https://evil.example' })).rejects.toThrow('403');
  });

  it('accepts a same-origin upgrade and one without Origin (not a browser)', async () => {
    const same = await RawWebSocket.open(d.port, { Origin: `http://127.0.0.1:${d.port}` });
    expect(same.handshake.status).toBe(101);
    same.ws.destroy();
    const none = await RawWebSocket.open(d.port);
    expect(none.handshake.status).toBe(101);
    none.ws.destroy();
  });

  it('refuses a request whose Host is not loopback with 403 (DNS rebinding)', async () => {
    const { handshake } = await RawWebSocket.open(d.port, { Host: `rebound.example:${d.port}`, Origin: `http://rebound.example:${d.port}` });
    expect(handshake.status).toBe(403);
    expect(await postWithHost(d.port, `rebound.example:${d.port}`, QUIT)).toBe(403);
    expect(await postWithHost(d.port, `localhost:${d.port}`, '{"execute":"query-version"}')).toBe(200);
    expect((await d.fetch('/healthz')).status).toBe(200);
  });

  it('refuses a cross-origin POST with 403 and sends no CORS headers', async () => {
    const res = await d.post('/api/v1/qmp', QUIT, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await d.fetch('/api/v1/qmp', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logs requests without credentials', async () => {
    const secret = 'S3cret-' + randomBytes(12).toString('hex');
    await d.post('/api/v1/qmp', '{"execute":"query-version"}', { authorization: `Bearer ${secret}`, cookie: `k=${secret}` });
    const raw = await RawWebSocket.open(d.port, { 'Sec-WebSocket-Protocol': `qmp, qmpd.token.${secret}` });
    raw.ws.destroy();
    expect(d.logText).toContain('incoming request');
    expect(d.logText).toContain('websocket connected');
    expect(d.logText).not.toContain(secret);
  });
});

describe('with an allowed origin', () => {
  const ORIGIN = 'https://console.example:8443';
  let d: ApiDaemon;
  beforeAll(async () => {
    d = await ApiDaemon.start({ allowedOrigins: [ORIGIN] });
  });
  afterAll(async () => {
    await d[Symbol.asyncDispose]();
  });

  it('accepts upgrades from that origin and still refuses others', async () => {
    const ok = await RawWebSocket.open(d.port, { Origin: ORIGIN });
    expect(ok.handshake.status).toBe(101);
    ok.ws.destroy();
    const other = await RawWebSocket.open(d.port, { Origin: 'https://console.example:8444' });
    expect(other.handshake.status).toBe(403);
  });

  it('answers its preflight and marks its responses with CORS headers', async () => {
    const preflight = await d.fetch('/api/v1/qmp', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Content-Type');
    const res = await d.post('/api/v1/qmp', '{"execute":"query-version"}', { origin: ORIGIN });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('vary')).toContain('Origin');
  });
});
