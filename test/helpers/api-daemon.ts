/**
 * An in-process daemon for HTTP/WebSocket tests: a real Daemon with a QMP
 * unix socket and an HTTP listener on 127.0.0.1 port 0 (or a unix socket),
 * so tests can reach it with real clients and also emit events through
 * `daemon.events`. `await using` shuts it down and removes its directory.
 * (Tests of the CLI binary itself use TestDaemon from ./daemon.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import type { HttpAddress, HttpLimits } from '../../src/transports/http-config.js';
import { startHttp } from '../../src/transports/http-cli.js';
import type { HttpServer } from '../../src/transports/http.js';
import { UnixMessageClient, WsMessageClient } from './message-client.js';

export interface ApiDaemonOptions {
  token?: string;
  allowedOrigins?: string[];
  limits?: Partial<HttpLimits>;
  /** Listen on a unix socket in the fixture's directory instead of TCP. */
  unixHttp?: boolean;
  /** Keep the daemon's log lines (info level) in `logText`. */
  captureLogs?: boolean;
}

export class ApiDaemon implements AsyncDisposable {
  /** Headers that /metrics (and `metric`) send: set it when the fixture has a token. */
  authHeader: Record<string, string> = {};

  private constructor(
    readonly daemon: Daemon,
    private readonly logSink: { text: string },
    readonly dir: string,
    readonly socketPath: string,
    public http: HttpServer | undefined,
  ) {}

  static async start(opts: ApiDaemonOptions = {}): Promise<ApiDaemon> {
    const dir = mkdtempSync(join(tmpdir(), 'qmpd-api-'));
    const logSink = { text: '' };
    const log = opts.captureLogs
      ? pino(
          { level: 'trace' },
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              logSink.text += chunk.toString('utf8');
              cb();
            },
          }),
        )
      : silentLogger();
    const daemon = new Daemon({ log });
    const fixture = new ApiDaemon(daemon, logSink, dir, join(dir, 'qmp.sock'), undefined);
    await daemon.addMonitor('qmp', { kind: 'unix', path: fixture.socketPath }, false);
    const address: HttpAddress = opts.unixHttp
      ? { kind: 'unix', path: join(dir, 'http.sock') }
      : { kind: 'tcp', host: '127.0.0.1', port: 0 };
    fixture.http = await startHttp(daemon, {
      address,
      token: opts.token,
      allowedOrigins: opts.allowedOrigins ?? [],
      limits: opts.limits,
    });
    return fixture;
  }

  /** http://127.0.0.1:PORT/ */
  get url(): string {
    return this.http!.url;
  }

  get port(): number {
    return this.http!.port!;
  }

  /** ws://127.0.0.1:PORT/qmp */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/qmp`;
  }

  connectUnix(): Promise<UnixMessageClient> {
    return UnixMessageClient.connect(this.socketPath);
  }

  connectWs(protocols?: string[], headers?: Record<string, string>): Promise<WsMessageClient> {
    return WsMessageClient.connect(this.wsUrl, protocols, headers);
  }

  fetch(path: string, init?: RequestInit): Promise<Response> {
    return fetch(new URL(path, this.url), init);
  }

  /** POST a JSON text (the body is sent exactly as given). */
  post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  }

  /** The value of one Prometheus sample line, 0 when absent. */
  async metric(line: string): Promise<number> {
    const text = await (await this.fetch('/metrics', { headers: this.authHeader })).text();
    const found = text.split('\n').find((l) => l.startsWith(line + ' '));
    return found === undefined ? 0 : Number(found.slice(line.length + 1));
  }

  /** What the daemon logged (with captureLogs). */
  get logText(): string {
    return this.logSink.text;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.daemon.shutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
