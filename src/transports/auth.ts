/**
 * Who may talk to the HTTP/WebSocket API: the bearer token (constant-time
 * comparison), the Host check that stops DNS rebinding of a loopback daemon,
 * and the Origin check that stops cross-site WebSocket hijacking. One guard
 * serves plain requests and WebSocket upgrades alike.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { QmpError } from '../qmp/error.js';
import { describeErrno } from '../util/errno.js';

/** The token may come from the environment, never from the command line (ps shows argv). */
export const TOKEN_ENV = 'QMPD_HTTP_TOKEN';
/** A WebSocket subprotocol carrying the token, for browsers that cannot set Authorization. */
export const TOKEN_PROTOCOL_PREFIX = 'qmpd.token.';
/** Short tokens can be guessed; 16 characters of base64 are 96 bits. */
export const MIN_TOKEN_LENGTH = 16;
/** Characters valid both in a bearer token (RFC 6750) and in a subprotocol name (RFC 7230 tchar). */
const TOKEN_CHARS = /^[A-Za-z0-9._~+-]+$/;

export interface GuardVerdict {
  status: 401 | 403;
  message: string;
}

/** Reads the token file (or the environment variable); undefined when neither is set. */
export function loadToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let token: string | undefined;
  if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw QmpError.generic(`cannot read token file '${file}': ${describeErrno(err as NodeJS.ErrnoException)}`);
    }
  } else {
    // Set but empty counts as unset, as shells make it easy to export an empty variable.
    token = env[TOKEN_ENV]?.trim();
    if (token === undefined || token === '') return undefined;
  }
  checkTokenSyntax(token, file === undefined ? `${TOKEN_ENV}` : `token file '${file}'`);
  return token;
}

export function checkTokenSyntax(token: string, source: string): void {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw QmpError.generic(`${source}: the token must be at least ${MIN_TOKEN_LENGTH} characters long`);
  }
  if (!TOKEN_CHARS.test(token)) {
    throw QmpError.generic(`${source}: the token may only contain letters, digits and . _ ~ + -`);
  }
}

/** Compares digests, so neither the content nor the length of the token leaks through timing. */
export class TokenCheck {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  matches(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    return timingSafeEqual(this.digest, sha256(candidate));
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/** The Sec-WebSocket-Protocol values, in the client's order. */
export function offeredProtocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

export function protocolToken(protocols: readonly string[]): string | undefined {
  const p = protocols.find((x) => x.startsWith(TOKEN_PROTOCOL_PREFIX));
  return p?.slice(TOKEN_PROTOCOL_PREFIX.length);
}

/** 127.0.0.0/8, ::1, IPv4-mapped loopback, and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^0*(:0*){6}:0*1$/.test(h);
  return false;
}

/** The host name of a Host header value ("[::1]:80" → "[::1]", "a:80" → "a"). */
function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.indexOf(':');
  return colon < 0 ? hostHeader : hostHeader.slice(0, colon);
}

function normalizeOrigin(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    return u.origin === 'null' ? undefined : u.origin;
  } catch {
    return undefined; // not a URL: matches nothing
  }
}

export interface GuardOptions {
  token: string | undefined;
  allowedOrigins: readonly string[];
  /** Loopback TCP without a token: the Host header must name loopback too. */
  checkHost: boolean;
}

export class RequestGuard {
  private readonly tokenCheck: TokenCheck | undefined;
  private readonly allowed: Set<string>;

  constructor(private readonly opts: GuardOptions) {
    this.tokenCheck = opts.token === undefined ? undefined : new TokenCheck(opts.token);
    this.allowed = new Set(opts.allowedOrigins.map((o) => normalizeOrigin(o) ?? o));
  }

  get tokenRequired(): boolean {
    return this.tokenCheck !== undefined;
  }

  /** An Origin listed with --http-allow-origin (not merely same-origin): CORS applies to it. */
  isAllowedCrossOrigin(origin: string | undefined): boolean {
    if (origin === undefined) return false;
    const o = normalizeOrigin(origin);
    return o !== undefined && this.allowed.has(o);
  }

  /** Same origin as the request's Host, or allowed; no Origin at all is not a browser and passes. */
  originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
    if (origin === undefined) return true;
    const o = normalizeOrigin(origin);
    if (o === undefined) return false;
    if (this.allowed.has(o)) return true;
    // We serve plain HTTP, so a same-origin page is http://<Host>.
    return hostHeader !== undefined && o === normalizeOrigin(`http://${hostHeader}`);
  }

  /**
   * Host, then Origin, then token. `protocols` are the offered WebSocket
   * subprotocols of an upgrade; `tokenExempt` skips only the token (healthz, CORS preflight).
   */
  check(headers: IncomingHttpHeaders, protocols?: readonly string[], tokenExempt = false): GuardVerdict | undefined {
    const host = headers.host;
    if (this.opts.checkHost && (host === undefined || !isLoopbackHost(hostName(host)))) {
      return { status: 403, message: 'Host header must name a loopback address' };
    }
    if (!this.originAllowed(headers.origin, host)) {
      return { status: 403, message: 'Origin not allowed' };
    }
    if (this.tokenCheck === undefined || tokenExempt) return undefined;
    const presented = bearerToken(headers.authorization) ?? (protocols ? protocolToken(protocols) : undefined);
    if (!this.tokenCheck.matches(presented)) {
      return { status: 401, message: presented === undefined ? 'missing bearer token' : 'invalid bearer token' };
    }
    return undefined;
  }
}
