/**
 * The HTTP options of the real binary (`node dist/cli.js`): --http on TCP and
 * on a unix socket, the token file and environment token, the refusal to
 * listen beyond loopback without a token, and the default run's printed URL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, REPO, TestDaemon } from '../helpers/daemon.js';
import { WsMessageClient } from '../helpers/message-client.js';

/** The URL the daemon logged once HTTP was listening (needs --log-level info). */
async function loggedUrl(d: TestDaemon): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /"url":"(http:\/\/[^"]+)".*"msg":"HTTP API listening"/.exec(d.stderr);
    if (m) return m[1]!;
    if (d.proc.exitCode !== null) throw new Error(`qmpd exited: ${d.stderr}`);
    if (Date.now() > deadline) throw new Error(`no HTTP URL logged: ${d.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the CLI to completion (for options that make it refuse to start). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('qmpd --http', () => {
  it('serves QMP over HTTP and WebSocket on the port it was given', async () => {
    await using d = await TestDaemon.start({ args: ['--log-level', 'info', '--http', '127.0.0.1:0'] });
    const url = await loggedUrl(d);
    const res = await fetch(new URL('/api/v1/qmp', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"execute":"query-version"}',
    });
    expect(await res.json()).toHaveProperty('return.qemu.major', 7);
    const ws = await WsMessageClient.connect(url.replace(/^http/, 'ws') + 'qmp');
    expect(await ws.next()).toHaveProperty('QMP');
    expect(await ws.command('qmp_capabilities')).toEqual({ return: {} });
    ws.close();
  });

  it('refuses to start on a non-loopback address without a token, saying how to fix it', async () => {
    const { code, stderr } = await runCli(['--http', '0.0.0.0:0'], { QMPD_HTTP_TOKEN: '' });
    expect(code).toBe(1);
    expect(stderr).toContain('qmpd: --http 0.0.0.0:0: refusing to serve HTTP on non-loopback address 0.0.0.0 without a token');
    expect(stderr).toContain('--http-token-file');
  });

  it('refuses a token file that comes after --http', async () => {
    const { code, stderr } = await runCli(['--http', '127.0.0.1:0', '--http-token-file', '/nonexistent']);
    expect(code).toBe(1);
    expect(stderr).toContain('--http-token-file must come before --http');
  });

  it('refuses a missing token file and a short token with clear messages', async () => {
    const missing = await runCli(['--http-token-file', '/nonexistent/token', '--http', '0.0.0.0:0']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("cannot read token file '/nonexistent/token': No such file or directory");
    const short = await runCli(['--http', '127.0.0.1:0'], { QMPD_HTTP_TOKEN: 'short' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('QMPD_HTTP_TOKEN: the token must be at least 16 characters long');
  });

  it('listens on all addresses with a token file and demands the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qmpd-token-'));
    try {
      const token = randomBytes(24).toString('base64url');
      writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
      await using d = await TestDaemon.start({
        args: ['--log-level', 'info', '--http-token-file', join(dir, 'token'), '--http', '0.0.0.0:0'],
        env: { QMPD_HTTP_TOKEN: '' },
      });
      const port = new URL(await loggedUrl(d)).port;
      const api = `http://127.0.0.1:${port}/api/v1/qmp`;
      const body = '{"execute":"query-version"}';
      const headers = { 'content-type': 'application/json' };
      expect((await fetch(api, { method: 'POST', headers, body })).status).toBe(401);
      const ok = await fetch(api, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body });
      expect(ok.status).toBe(200);
      expect(d.stderr).not.toContain(token);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the HTTP URL in the default run that `npm start` starts', async () => {
    // the options of package.json's start script (README: `npm start`), with a state directory of our own
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } };
    const [node, script, ...startArgs] = pkg.scripts.start.split(' ');
    expect([node, script]).toEqual(['node', 'dist/cli.js']);
    const dir = mkdtempSync(join(tmpdir(), 'qmpd-default-'));
    const proc = spawn(process.execPath, [CLI, ...startArgs, '--state-dir', join(dir, 'state')], {
      env: { ...process.env, QMPD_HTTP_TOKEN: '' },
    });
    try {
      let stdout = '';
      proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      const deadline = Date.now() + 10_000;
      while (!/HTTP API (http:\S+)/.test(stdout) && Date.now() < deadline && proc.exitCode === null) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const url = /HTTP API (http:\S+)/.exec(stdout)?.[1];
      expect(url, stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await fetch(new URL('/healthz', url))).status).toBe(200);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
