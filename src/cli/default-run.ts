/**
 * The default run (no options): a state directory under the working
 * directory with a demo qcow2 image (made once) opened as drive `drive0`, a
 * QMP socket and HTTP on loopback. Returns the lines printed on stdout.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { driveAdd } from '../block/blockdev.js';
import { formatQcow2 } from '../block/drivers/qcow2/create.js';
import { HostFileIo } from '../block/host-file-io.js';
import type { Daemon } from '../daemon.js';

/** Size of the demo disk: small on disk (qcow2 allocates on write). */
export const DEMO_IMAGE_SIZE = 1024 * 1024 * 1024;

async function createDemoImage(path: string): Promise<void> {
  const handle = await open(path, 'wx+');
  try {
    await formatQcow2(new HostFileIo(path, handle, 0), { size: DEMO_IMAGE_SIZE });
  } finally {
    await handle.close();
  }
}

export async function startDefaultRun(daemon: Daemon, stateDir: string): Promise<string[]> {
  mkdirSync(stateDir, { recursive: true });
  // absolute: a relative backing name would be resolved against the overlay's directory
  const dir = stateDir;
  const image = join(dir, 'demo.qcow2');
  const created = !existsSync(image);
  if (created) await createDemoImage(image);
  await driveAdd(daemon.graph, { id: 'drive0', file: image, format: 'qcow2', nodeName: 'demo', readOnly: false });
  const socketPath = join(dir, 'qmp.sock');
  await daemon.addMonitor('qmp', { kind: 'unix', path: socketPath }, false);
  const { startDefaultHttp } = await import('../transports/http-cli.js');
  const http = await startDefaultHttp(daemon);
  return [
    `qmpd: ${created ? 'created' : 'opened'} ${image} (${DEMO_IMAGE_SIZE / 2 ** 30} GiB qcow2) as drive 'drive0', node 'demo'`,
    `qmpd: QMP socket ${socketPath}`,
    `qmpd: try: socat - UNIX-CONNECT:${socketPath}`,
    `qmpd: HTTP API ${http.url} (QMP over WebSocket at ${http.url.replace(/^http/, 'ws')}qmp)`,
  ];
}
