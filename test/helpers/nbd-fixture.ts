/**
 * Starts an NbdServer on a unix socket in a fresh temporary directory with
 * the given exports; `await using` closes it and removes the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NbdExportBackend } from '../../src/block/exports/nbd/backend.js';
import { NbdServer, type NbdServerOptions } from '../../src/block/exports/nbd/server.js';

export interface NbdFixture extends AsyncDisposable {
  server: NbdServer;
  dir: string;
  socket: string;
  /** nbd+unix:///NAME?socket=PATH */
  uri(name: string): string;
}

export async function startNbd(
  backends: NbdExportBackend[],
  opts: Omit<NbdServerOptions, 'address'> = {},
): Promise<NbdFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'qmpd-nbd-'));
  const socket = join(dir, 'nbd.sock');
  const server = await NbdServer.start({ address: { kind: 'unix', path: socket }, ...opts });
  for (const b of backends) server.addExport(b);
  return {
    server,
    dir,
    socket,
    uri: (name) => `nbd+unix:///${encodeURIComponent(name)}?socket=${socket}`,
    async [Symbol.asyncDispose]() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
