/**
 * The recorded table of QSD 7.2 argument errors (test/unit/qapi/fixtures)
 * replayed against the live qemu-storage-daemon, so the table stays true,
 * and against a running qmpd, so the whole path (parser, dispatch,
 * validator) answers the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { QmpClient } from '../helpers/qmp-client.js';
import { skipWithout } from '../helpers/tools.js';
import { QSD_ARGUMENT_ERRORS } from '../unit/qapi/fixtures/qsd-argument-errors.js';

async function answers(client: QmpClient): Promise<string[]> {
  const out: string[] = [];
  for (const [command, args] of QSD_ARGUMENT_ERRORS) {
    // Raw text keeps numbers such as 1.0 and 2^64 exactly as written.
    client.sendRaw(`{"execute":"${command}","arguments":${args}}\n`);
    const reply = await client.next();
    const error = reply.error as { class: string; desc: string } | undefined;
    out.push(error ? `${error.class}: ${error.desc}` : 'success');
  }
  return out;
}

describe.skipIf(skipWithout('qemu-storage-daemon'))('argument validation texts against qemu-storage-daemon', () => {
  const daemons: TestDaemon[] = [];
  let qsd: string[];
  let qmpd: string[];
  beforeAll(async () => {
    for (const kind of ['qsd', 'qmpd'] as const) {
      const d = await TestDaemon.start({ kind });
      daemons.push(d);
      const c = await d.connect();
      const list = await answers(c);
      c.close();
      if (kind === 'qsd') qsd = list;
      else qmpd = list;
    }
  });
  afterAll(async () => {
    for (const d of daemons) await d[Symbol.asyncDispose]();
  });

  it('QSD still answers every recorded row with the recorded text', () => {
    expect(qsd).toEqual(QSD_ARGUMENT_ERRORS.map(([, , desc]) => `GenericError: ${desc}`));
  });

  it('qmpd answers every row as QSD does', () => {
    expect(qmpd).toEqual(qsd);
  });
});
