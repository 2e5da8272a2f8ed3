/**
 * The recorded option-string errors replayed against the real
 * qemu-storage-daemon command line: each row must still make QSD exit
 * with `qemu-storage-daemon: <option> <text>: <error>`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../helpers/tools.js';
import { QSD_OPTION_ERRORS } from '../unit/qapi/fixtures/qsd-option-errors.js';

describe.skipIf(skipWithout('qemu-storage-daemon'))('option strings against qemu-storage-daemon', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qsd-keyval-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(QSD_OPTION_ERRORS)('QSD rejects %s %s with the recorded text', (opt, text, desc) => {
    const r = spawnSync('qemu-storage-daemon', [opt, text], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(`qemu-storage-daemon: ${opt} ${text}: ${desc}`);
  });
});
