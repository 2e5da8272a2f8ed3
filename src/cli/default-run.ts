/**
 * The default run (no options): a state directory with a QMP socket, ready
 * for `socat - UNIX-CONNECT:...`. Returns the lines printed on stdout.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon } from '../daemon.js';
import { startDefaultHttp } from '../transports/http-cli.js';

export async function startDefaultRun(daemon: Daemon, stateDir: string): Promise<string[]> {
  mkdirSync(stateDir, { recursive: true });
  const socketPath = join(stateDir, 'qmp.sock');
  await daemon.addMonitor('qmp', { kind: 'unix', path: socketPath }, false);
  const http = await startDefaultHttp(daemon);
  return [
    `qmpd: QMP socket ${socketPath}`,
    `qmpd: try: socat - UNIX-CONNECT:${socketPath}`,
    `qmpd: HTTP API ${http.url} (QMP over WebSocket at ${http.url.replace(/^http/, 'ws')}qmp)`,
  ];
}
