import { describe, expect, it } from 'vitest';
import { MetaCache } from '../../../../src/block/drivers/qcow2/meta-cache.js';
import { Mutex } from '../../../../src/block/drivers/qcow2/mutex.js';

describe('the metadata table cache', () => {
  it('shares one read between concurrent loads of a table', async () => {
    let loads = 0;
    const cache = new MetaCache(4, 8, async (off, buf) => {
      loads++;
      await new Promise((r) => setImmediate(r));
      buf.fill(off & 0xff);
    });
    const [a, b] = await Promise.all([cache.get(512), cache.get(512)]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
  });

  it('evicts clean tables beyond its capacity, least recently used first, and never dirty ones', async () => {
    const cache = new MetaCache(2, 8, async (_off, buf) => void buf.fill(0));
    cache.insertNew(0, Buffer.alloc(8));
    await cache.get(512);
    await cache.get(1024);
    await cache.get(1536);
    expect(cache.peek(0)).toBeDefined();
    expect(cache.peek(512)).toBeUndefined();
    expect(cache.dirtyOffsets()).toEqual([0]);
    cache.markClean(0);
    await cache.get(2048);
    await cache.get(2560);
    expect(cache.peek(0)).toBeUndefined();
  });

  it('hands out tables for update already marked dirty', async () => {
    const cache = new MetaCache(1, 8, async (_off, buf) => void buf.fill(0));
    const t = await cache.getForUpdate(4096);
    expect(cache.dirtyOffsets()).toEqual([4096]);
    await cache.get(8192);
    expect(cache.peek(4096)).toBe(t);
  });
});

describe('the metadata mutex', () => {
  it('admits one holder at a time, in arrival order', async () => {
    const m = new Mutex();
    const order: string[] = [];
    const job = (name: string, turns: number) =>
      m.run(async () => {
        order.push(`${name}+`);
        for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
        order.push(`${name}-`);
      });
    await Promise.all([job('a', 3), job('b', 1), job('c', 0)]);
    expect(order).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(m.isHeld).toBe(false);
  });

  it('is released when the holder throws', async () => {
    const m = new Mutex();
    await expect(m.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(m.isHeld).toBe(false);
  });
});
