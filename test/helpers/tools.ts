/**
 * External tools for interop tests. In CI (`CI` set) a missing tool is a
 * failure; elsewhere the test is skipped with a visible reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** For describe.skipIf / it.skipIf: true when the tools are missing outside CI (and says so). */
export function skipWithout(...tools: string[]): boolean {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return false;
  if (process.env.CI) throw new Error(`interop tools missing in CI: ${missing.join(', ')}`);
  process.stderr.write(`SKIPPED: interop tests need ${missing.join(', ')} (apt-get install qemu-utils qemu-system-common socat libnbd-bin)\n`);
  return true;
}

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
