import { describe, expect, it } from 'vitest';
import { checkExposure, parseHttpAddress } from '../../../src/transports/http-config.js';
import { parseOrigin } from '../../../src/transports/http-cli.js';

describe('parseHttpAddress', () => {
  it.each([
    ['8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }],
    ['0', { kind: 'tcp', host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:80', { kind: 'tcp', host: '0.0.0.0', port: 80 }],
    ['localhost:9000', { kind: 'tcp', host: 'localhost', port: 9000 }],
    ['[::1]:8080', { kind: 'tcp', host: '::1', port: 8080 }],
    ['unix:/run/qmpd/http.sock', { kind: 'unix', path: '/run/qmpd/http.sock' }],
  ])('reads %s', (text, address) => {
    expect(parseHttpAddress(text)).toEqual(address);
  });

  it.each([
    ['', "invalid port ''"],
    ['http', "invalid port 'http'"],
    ['65536', "invalid port '65536'"],
    ['::1:80', 'an IPv6 address must be written in brackets'],
    [':80', 'host is empty'],
    ['unix:', 'unix socket path is empty'],
  ])('refuses %j', (text, message) => {
    expect(() => parseHttpAddress(text)).toThrow(message);
  });
});

describe('checkExposure', () => {
  it('lets loopback and unix sockets go without a token', () => {
    expect(() => checkExposure({ kind: 'tcp', host: '127.0.0.1', port: 1 }, undefined)).not.toThrow();
    expect(() => checkExposure({ kind: 'tcp', host: '::1', port: 1 }, undefined)).not.toThrow();
    expect(() => checkExposure({ kind: 'unix', path: '/x' }, undefined)).not.toThrow();
  });

  it('refuses any other address without a token, and allows it with one', () => {
    expect(() => checkExposure({ kind: 'tcp', host: '0.0.0.0', port: 1 }, undefined)).toThrow(
      'refusing to serve HTTP on non-loopback address 0.0.0.0 without a token',
    );
    expect(() => checkExposure({ kind: 'tcp', host: '::', port: 1 }, undefined)).toThrow('non-loopback');
    expect(() => checkExposure({ kind: 'tcp', host: '0.0.0.0', port: 1 }, 'a-token-of-some-length')).not.toThrow();
  });
});

describe('parseOrigin', () => {
  it('normalizes an origin and refuses paths and non-URLs', () => {
    expect(parseOrigin('https://ui.example')).toBe('https://ui.example');
    expect(parseOrigin('https://ui.example/')).toBe('https://ui.example');
    expect(parseOrigin('http://ui.example:8080')).toBe('http://ui.example:8080');
    expect(() => parseOrigin('https://ui.example/app')).toThrow('without a path');
    expect(() => parseOrigin('ui.example')).toThrow("invalid origin 'ui.example'");
  });
});
