import { describe, expect, it } from 'vitest';
import { DeferredFrees } from '../../../../src/block/drivers/qcow2/frees.js';

describe('deferred cluster frees', () => {
  it('hold a freed cluster back until every request that started before the free has ended', () => {
    const f = new DeferredFrees();
    const early = f.begin();
    f.queue(10, 1);
    const late = f.begin();
    expect(f.takeReleasable()).toEqual([]);
    f.end(early);
    expect(f.takeReleasable()).toEqual([{ cluster: 10, count: 1 }]);
    f.end(late);
    expect(f.size).toBe(0);
  });

  it('releases frees queued while no request runs at the next opportunity', () => {
    const f = new DeferredFrees();
    f.queue(3, 2);
    expect(f.takeReleasable()).toEqual([{ cluster: 3, count: 2 }]);
  });
});
