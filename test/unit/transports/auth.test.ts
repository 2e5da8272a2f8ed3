import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  isLoopbackHost,
  loadToken,
  offeredProtocols,
  protocolToken,
  RequestGuard,
  TokenCheck,
} from '../../../src/transports/auth.js';

const TOKEN = 'abcdefghijklmnop-0123456789';

describe('TokenCheck', () => {
  const check = new TokenCheck(TOKEN);

  it('accepts exactly the token', () => {
    expect(check.matches(TOKEN)).toBe(true);
  });

  it('refuses a missing token, a prefix, an extension and a different one of the same length', () => {
    expect(check.matches(undefined)).toBe(false);
    expect(check.matches(TOKEN.slice(0, -1))).toBe(false);
    expect(check.matches(TOKEN + 'x')).toBe(false);
    expect(check.matches(TOKEN.replace('a', 'b'))).toBe(false);
    expect(check.matches('')).toBe(false);
  });
});

describe('token sources', () => {
  it('reads the token file without its trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qmpd-auth-'));
    try {
      writeFileSync(join(dir, 't'), `${TOKEN}\n`);
      expect(loadToken(join(dir, 't'), {})).toBe(TOKEN);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('prefers the file to the environment, and uses the environment otherwise', () => {
    expect(loadToken(undefined, { QMPD_HTTP_TOKEN: TOKEN })).toBe(TOKEN);
    expect(loadToken(undefined, {})).toBeUndefined();
    expect(loadToken(undefined, { QMPD_HTTP_TOKEN: '  ' })).toBeUndefined();
  });

  it('refuses short tokens and tokens that cannot travel as a subprotocol', () => {
    expect(() => loadToken(undefined, { QMPD_HTTP_TOKEN: 'short' })).toThrow('at least 16 characters');
    expect(() => loadToken(undefined, { QMPD_HTTP_TOKEN: 'abcdefghijklmnop/q=' })).toThrow('may only contain');
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadToken('/nonexistent/t', {})).toThrow("cannot read token file '/nonexistent/t': No such file or directory");
  });
});

describe('header parsing', () => {
  it('takes the bearer token, case-insensitively for the scheme only', () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`Basic ${TOKEN}`)).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('splits offered subprotocols and finds the token among them', () => {
    const offered = offeredProtocols(`qmp , qmpd.token.${TOKEN},jsonrpc`);
    expect(offered).toEqual(['qmp', `qmpd.token.${TOKEN}`, 'jsonrpc']);
    expect(protocolToken(offered)).toBe(TOKEN);
    expect(protocolToken(['qmp'])).toBeUndefined();
  });
});

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'a.localhost', '::ffff:127.0.0.1'])(
    'counts %s as loopback',
    (h) => expect(isLoopbackHost(h)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1', 'localhost.example.com'])(
    'does not count %s as loopback',
    (h) => expect(isLoopbackHost(h)).toBe(false),
  );
});

describe('RequestGuard', () => {
  const open = new RequestGuard({ token: undefined, allowedOrigins: ['https://ui.example'], checkHost: true });
  const locked = new RequestGuard({ token: TOKEN, allowedOrigins: [], checkHost: false });

  it('passes a same-origin browser, a non-browser and an allowed origin', () => {
    expect(open.check({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' })).toBeUndefined();
    expect(open.check({ host: '127.0.0.1:8080' })).toBeUndefined();
    expect(open.check({ host: 'localhost:8080', origin: 'https://ui.example' })).toBeUndefined();
  });

  it('refuses another origin, the origin "null", and a same-origin on another port', () => {
    expect(open.check({ host: '127.0.0.1:8080', origin: 'http://evil.example' })?.status).toBe(403);
    expect(open.check({ host: '127.0.0.1:8080', origin: 'null' })?.status).toBe(403);
    expect(open.check({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8081' })?.status).toBe(403);
  });

  it('refuses a non-loopback Host when it has no token, and a missing Host', () => {
    expect(open.check({ host: 'rebind.example:8080' })).toEqual({ status: 403, message: 'Host header must name a loopback address' });
    expect(open.check({})?.status).toBe(403);
    expect(open.check({ host: '[::1]:8080' })).toBeUndefined();
  });

  it('demands the token from the header or the subprotocol, unless exempt', () => {
    expect(locked.check({ host: 'x' })).toEqual({ status: 401, message: 'missing bearer token' });
    expect(locked.check({ host: 'x', authorization: 'Bearer nope' })).toEqual({ status: 401, message: 'invalid bearer token' });
    expect(locked.check({ host: 'x', authorization: `Bearer ${TOKEN}` })).toBeUndefined();
    expect(locked.check({ host: 'x' }, ['qmp', `qmpd.token.${TOKEN}`])).toBeUndefined();
    expect(locked.check({ host: 'x' }, undefined, true)).toBeUndefined();
  });

  it('tells allowed cross origins apart for CORS', () => {
    expect(open.isAllowedCrossOrigin('https://ui.example')).toBe(true);
    expect(open.isAllowedCrossOrigin('https://ui.example:443')).toBe(true);
    expect(open.isAllowedCrossOrigin('http://ui.example')).toBe(false);
    expect(open.isAllowedCrossOrigin(undefined)).toBe(false);
  });
});
