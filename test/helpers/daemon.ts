/**
 * Starts a real daemon for interop tests: qmpd (`node dist/cli.js`) or
 * QEMU's qemu-storage-daemon, in a fresh temporary directory, with a QMP
 * unix socket; `await using` stops it and removes the directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QmpClient } from './qmp-client.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'dist/cli.js');

export type DaemonKind = 'qmpd' | 'qsd';

export interface DaemonOptions {
  kind?: DaemonKind;
  /** extra command-line words (rendered relative to the temp dir as cwd) */
  args?: string[];
  /** run before the daemon starts, in the temp dir */
  dir?: string;
  env?: Record<string, string>;
}

export class TestDaemon implements AsyncDisposable {
  stderr = '';
  stdout = '';
  private exited: Promise<number | null>;

  private constructor(
    readonly kind: DaemonKind,
    readonly dir: string,
    readonly socketPath: string,
    readonly proc: ChildProcess,
    private readonly ownsDir: boolean,
  ) {
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  static async start(opts: DaemonOptions = {}): Promise<TestDaemon> {
    const kind = opts.kind ?? 'qmpd';
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `${kind}-test-`));
    const socketPath = join(dir, 'qmp.sock');
    const argv = [
      '--chardev',
      `socket,id=mon0,path=${socketPath},server=on,wait=off`,
      '--monitor',
      'chardev=mon0',
      ...(opts.args ?? []),
    ];
    const proc =
      kind === 'qmpd'
        ? spawn(process.execPath, [CLI, ...argv], { cwd: dir, env: { ...process.env, ...opts.env } })
        : spawn('qemu-storage-daemon', argv, { cwd: dir, env: { ...process.env, ...opts.env } });
    const d = new TestDaemon(kind, dir, socketPath, proc, ownsDir);
    const deadline = Date.now() + 10_000;
    while (!existsSync(socketPath)) {
      if (proc.exitCode !== null) throw new Error(`${kind} exited (${proc.exitCode}): ${d.stderr}`);
      if (Date.now() > deadline) throw new Error(`${kind} did not open its socket: ${d.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return d;
  }

  /** Retries while the socket exists but is not listening yet (QEMU binds, then listens). */
  async connect(negotiate = true): Promise<QmpClient> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        return await QmpClient.connect(this.socketPath, negotiate);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  waitExit(timeoutMs = 10_000): Promise<number | null> {
    return Promise.race([this.exited, new Promise<null>((_, rej) => setTimeout(() => rej(new Error('no exit')), timeoutMs))]);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
