import { describe, expect, it } from 'vitest';
import { formatQcow2 } from '../../../../src/block/drivers/qcow2/create.js';
import { MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';
import { miniCheck } from '../../../helpers/qcow2-check.js';

async function written(): Promise<Buffer> {
  const f = new MemChild();
  await formatQcow2(f, { size: 1 << 20, clusterSize: 4096 });
  const inst = await openOnChild(f);
  await inst.write!(8192, Buffer.alloc(4096, 1), {});
  await inst.close();
  return Buffer.from(f.contents());
}

describe('the test helper miniCheck', () => {
  it('finds a freshly written image consistent', async () => {
    expect(miniCheck(await written())).toEqual({ corruptions: [], leaks: [] });
  });

  it('reports a lowered refcount as a corruption and a raised one as a leak', async () => {
    const img = await written();
    // clusters 0..5 are header, reftable, refblock, L1, L2, data: refblock at 0x2000
    const low = Buffer.from(img);
    low.writeUInt16BE(0, 0x2000 + 5 * 2);
    expect(miniCheck(low).corruptions).toContain('cluster 5 refcount=0 reference=1');
    const high = Buffer.from(img);
    high.writeUInt16BE(2, 0x2000 + 5 * 2);
    expect(miniCheck(high).leaks).toEqual(['cluster 5 refcount=2 reference=1']);
    expect(miniCheck(high).corruptions.some((c) => c.includes('COPIED'))).toBe(true);
  });
});
