/**
 * The --http, --http-token-file and --http-allow-origin options. Options are
 * applied in order (as QSD does), so the token file and allowed origins must
 * come before the --http they protect; the environment token needs no order.
 */
import type { Daemon } from '../daemon.js';
import { QmpError } from '../qmp/error.js';
import { loadToken } from './auth.js';
import { type HttpSettings, parseHttpAddress } from './http-config.js';
import { HttpServer } from './http.js';

interface HttpOptionsSoFar {
  tokenFile: string | undefined;
  allowedOrigins: string[];
  started: number;
}

const optionsOf = new WeakMap<Daemon, HttpOptionsSoFar>();

function stateOf(daemon: Daemon): HttpOptionsSoFar {
  let s = optionsOf.get(daemon);
  if (s === undefined) {
    s = { tokenFile: undefined, allowedOrigins: [], started: 0 };
    optionsOf.set(daemon, s);
  }
  return s;
}

/** An origin is scheme://host[:port], exactly as a browser sends it in Origin. */
export function parseOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw QmpError.generic(`invalid origin '${text}': expected scheme://host[:port]`);
  }
  if (url.origin === 'null' || url.origin !== text.replace(/\/$/, '')) {
    throw QmpError.generic(`invalid origin '${text}': expected scheme://host[:port], without a path`);
  }
  return url.origin;
}

/** Starts one HTTP listener and ties it to the daemon's shutdown. */
export async function startHttp(daemon: Daemon, settings: HttpSettings): Promise<HttpServer> {
  const server = new HttpServer(daemon, settings);
  await server.listen();
  daemon.onShutdown(() => server.close());
  return server;
}

export async function applyHttpOption(daemon: Daemon, name: string, value: string): Promise<void> {
  const s = stateOf(daemon);
  switch (name) {
    case 'http-token-file':
      if (s.started > 0) throw QmpError.generic('--http-token-file must come before --http');
      s.tokenFile = value;
      return;
    case 'http-allow-origin':
      if (s.started > 0) throw QmpError.generic('--http-allow-origin must come before --http');
      s.allowedOrigins.push(parseOrigin(value));
      return;
    case 'http': {
      const address = parseHttpAddress(value);
      const token = loadToken(s.tokenFile);
      const server = await startHttp(daemon, { address, token, allowedOrigins: [...s.allowedOrigins] });
      s.started++;
      daemon.log.info({ url: server.url }, 'HTTP API listening');
      return;
    }
    default:
      throw QmpError.generic(`option --${name} is not an HTTP option`);
  }
}

/** The default run's port; when it is taken, any free port (the URL is printed either way). */
export const DEFAULT_RUN_HTTP_PORT = 9797;

/** HTTP for the default run: loopback only, the environment token if there is one. */
export async function startDefaultHttp(daemon: Daemon, port = DEFAULT_RUN_HTTP_PORT): Promise<HttpServer> {
  const token = loadToken(undefined);
  const settings = (p: number): HttpSettings => ({ address: { kind: 'tcp', host: '127.0.0.1', port: p }, token, allowedOrigins: [] });
  try {
    return await startHttp(daemon, settings(port));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return startHttp(daemon, settings(0));
  }
}
