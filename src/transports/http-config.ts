/**
 * What an HTTP listener is configured with: the --http address, the token and
 * allowed origins, and every size limit as a named constant. The refusal to
 * listen beyond loopback without a token is decided here, before any bind.
 */
import type { Daemon } from '../daemon.js';
import { QmpError } from '../qmp/error.js';
import { isLoopbackHost } from './auth.js';

/** What the HTTP and WebSocket side uses of the daemon. */
export type ApiDaemon = Pick<
  Daemon,
  'sessionOptions' | 'dispatcher' | 'registry' | 'events' | 'metrics' | 'log' | 'shutdown' | 'whenStarted'
>;

export type HttpAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `--http 8080` listens here: loopback only unless told otherwise. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';
/** POST bodies: a blockdev-add or transaction is a few KiB; 1 MiB leaves room for big transactions. */
export const HTTP_BODY_LIMIT = 1024 * 1024;
/** One WebSocket message; larger ones are refused with close code 1009. */
export const WS_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Unsent output past which we stop reading a WebSocket client's requests. */
export const WS_OUTPUT_HIGH_WATER = 1024 * 1024;
/**
 * Unsent output past which a client that does not read is disconnected (close code 1008).
 * Must leave room above the high-water mark for the replies to one 64 KiB input chunk of
 * tiny frames (about 1 MiB), which are written before input can be paused.
 */
export const WS_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface HttpLimits {
  bodyLimit: number;
  wsMaxMessageBytes: number;
  wsOutputHighWater: number;
  wsMaxBufferedBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  bodyLimit: HTTP_BODY_LIMIT,
  wsMaxMessageBytes: WS_MAX_MESSAGE_BYTES,
  wsOutputHighWater: WS_OUTPUT_HIGH_WATER,
  wsMaxBufferedBytes: WS_MAX_BUFFERED_BYTES,
};

export interface HttpSettings {
  address: HttpAddress;
  token: string | undefined;
  allowedOrigins: readonly string[];
  limits?: Partial<HttpLimits>;
}

/** `[host:]port`, `[v6addr]:port` or `unix:PATH`. */
export function parseHttpAddress(text: string): HttpAddress {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path === '') throw QmpError.generic('unix socket path is empty');
    return { kind: 'unix', path };
  }
  let host = DEFAULT_HTTP_HOST;
  let portText = text;
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2]!;
  } else if (text.includes(':')) {
    const colon = text.lastIndexOf(':');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw QmpError.generic('an IPv6 address must be written in brackets: [addr]:port');
  }
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
    throw QmpError.generic(`invalid port '${portText}': expected [host:]port or unix:PATH`);
  }
  if (host === '') throw QmpError.generic('host is empty');
  return { kind: 'tcp', host, port: Number(portText) };
}

/** Throws the message the daemon refuses to start with. */
export function checkExposure(address: HttpAddress, token: string | undefined): void {
  if (address.kind === 'tcp' && token === undefined && !isLoopbackHost(address.host)) {
    throw QmpError.generic(
      `refusing to serve HTTP on non-loopback address ${address.host} without a token: ` +
        `give --http-token-file FILE (before --http) or set QMPD_HTTP_TOKEN`,
    );
  }
}

export function describeHttpAddress(address: HttpAddress, port?: number): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `http://${host}:${port ?? address.port}`;
}
