import { describe, expect, it } from 'vitest';
import { collectExtents } from '../../../../../src/block/exports/nbd/block-status.js';

type Ext = { length: number; flags: number };

/** A fetch that serves extents from a fixed list and records its calls. */
function source(extents: Ext[], perCall = Infinity) {
  const calls: [number, number][] = [];
  const fetch = async (offset: number, length: number): Promise<Ext[]> => {
    calls.push([offset, length]);
    const out: Ext[] = [];
    let pos = 0;
    for (const e of extents) {
      const end = pos + e.length;
      if (end > offset && out.length < perCall) out.push({ length: end - Math.max(pos, offset), flags: e.flags });
      pos = end;
    }
    return out;
  };
  return { fetch, calls };
}

describe('collectExtents', () => {
  it('clamps the last extent to the request and merges neighbours with equal flags', async () => {
    const { fetch } = source([
      { length: 100, flags: 0 },
      { length: 50, flags: 0 },
      { length: 100, flags: 3 },
    ]);
    expect(await collectExtents(fetch, 10, 200, 100)).toEqual([140, 0, 60, 3]);
  });

  it('asks again for the rest when a call covers only part of the range', async () => {
    const { fetch, calls } = source([
      { length: 10, flags: 0 },
      { length: 10, flags: 1 },
      { length: 10, flags: 0 },
    ], 1);
    expect(await collectExtents(fetch, 0, 30, 100)).toEqual([10, 0, 10, 1, 10, 0]);
    expect(calls).toEqual([[0, 30], [10, 20], [20, 10]]);
  });

  it('keeps one extent for REQ_ONE, as long as the flags stay the same', async () => {
    const { fetch } = source([
      { length: 10, flags: 2 },
      { length: 10, flags: 2 },
      { length: 10, flags: 0 },
    ], 1);
    expect(await collectExtents(fetch, 0, 30, 1)).toEqual([20, 2]);
  });

  it('refuses an extent of length zero from the backend', async () => {
    await expect(collectExtents(async () => [{ length: 0, flags: 0 }], 0, 10, 5)).rejects.toMatchObject({ code: 'EIO' });
    await expect(collectExtents(async () => [], 0, 10, 5)).rejects.toMatchObject({ code: 'EIO' });
  });
});
