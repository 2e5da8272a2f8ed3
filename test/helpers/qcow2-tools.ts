/** qemu-img / qemu-io wrappers for the qcow2 interop tests. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function tool(cmd: string, args: string[], cwd?: string): ToolResult {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a tool and throws with its stderr if it fails. */
export function mustRun(cmd: string, args: string[], cwd?: string): string {
  const r = tool(cmd, args, cwd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface CheckResult {
  status: number;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  stderr: string;
  imageEndOffset: number;
}

export function qemuImgCheck(path: string): CheckResult {
  const r = tool('qemu-img', ['check', '-f', 'qcow2', '--output=json', path]);
  let json: Record<string, number> = {};
  try {
    json = JSON.parse(r.stdout) as Record<string, number>;
  } catch {
    json = { 'check-errors': -1 };
  }
  return {
    status: r.status,
    corruptions: json['corruptions'] ?? 0,
    leaks: json['leaks'] ?? 0,
    checkErrors: json['check-errors'] ?? 0,
    stderr: r.stderr,
    imageEndOffset: json['image-end-offset'] ?? 0,
  };
}

export function qemuImgInfo(path: string, extra: string[] = []): Record<string, unknown> {
  return JSON.parse(mustRun('qemu-img', ['info', '--output=json', ...extra, path])) as Record<string, unknown>;
}

/** `qemu-io -f qcow2 -c cmd...`; returns stdout, throws on failure or error output. */
export function qemuIo(path: string, cmds: string[], format = 'qcow2'): string {
  const args = ['-f', format];
  for (const c of cmds) args.push('-c', c);
  args.push(path);
  const r = tool('qemu-io', args);
  if (r.status !== 0 || /failed|error/i.test(r.stdout + r.stderr)) {
    throw new Error(`qemu-io ${cmds.join('; ')} on ${path}: ${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

export function tempDir(prefix = 'qmpd-qcow2-'): { dir: string; path(name: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
