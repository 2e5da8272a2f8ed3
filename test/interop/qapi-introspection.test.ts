/**
 * query-qmp-schema of qmpd against the real qemu-storage-daemon: the same
 * 494 SchemaInfo entries, masked names and their numbering included (JSON
 * member order aside, which QEMU's encoder decides and ours matches).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTROSPECTION } from '../../src/qapi/generated/introspection.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipWithout } from '../helpers/tools.js';

/** JSON text with object keys sorted, so member order does not matter. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

describe.skipIf(skipWithout('qemu-storage-daemon'))('query-qmp-schema against qemu-storage-daemon', () => {
  let qsd: TestDaemon;
  let qmpd: TestDaemon;
  let theirs: Record<string, unknown>[];
  beforeAll(async () => {
    qsd = await TestDaemon.start({ kind: 'qsd' });
    qmpd = await TestDaemon.start({ kind: 'qmpd' });
    const c = await qsd.connect();
    theirs = await c.execute<Record<string, unknown>[]>('query-qmp-schema');
    c.close();
  });
  afterAll(async () => {
    await qsd?.[Symbol.asyncDispose]();
    await qmpd?.[Symbol.asyncDispose]();
  });

  it('has the same entries in the same order as the generated introspection', () => {
    expect(INTROSPECTION.length).toBe(theirs.length);
    for (let i = 0; i < theirs.length; i++) {
      expect(canonical(INTROSPECTION[i]), `entry ${i}`).toBe(canonical(theirs[i]));
    }
  });

  it('is what a running qmpd answers, byte for byte', async () => {
    const c = await qmpd.connect();
    const ours = await c.execute<unknown[]>('query-qmp-schema');
    c.close();
    expect(JSON.stringify(ours)).toBe(JSON.stringify(theirs));
  });

  // QSD lists them in reverse schema order; the order is the registry's business, the set is ours.
  it('lists the same 74 commands in query-commands', async () => {
    const names = async (d: TestDaemon): Promise<string[]> => {
      const c = await d.connect();
      const list = await c.execute<{ name: string }[]>('query-commands');
      c.close();
      return list.map((e) => e.name);
    };
    const q = await names(qsd);
    expect(q).toHaveLength(74);
    expect((await names(qmpd)).sort()).toEqual(q.sort());
  });
});
