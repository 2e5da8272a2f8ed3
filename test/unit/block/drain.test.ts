import { describe, expect, it } from 'vitest';
import { BlockBackend } from '../../../src/block/backend.js';
import { blockdevAdd } from '../../../src/block/blockdev.js';
import { drainedBegin } from '../../../src/block/drain.js';
import type { BlockDriver, DriverInstance } from '../../../src/block/drivers/driver.js';
import { registerDriver } from '../../../src/block/drivers/registry.js';
import { GraphChange } from '../../../src/block/graph-change.js';
import { BlockGraph } from '../../../src/block/graph.js';
import { refreshPerms } from '../../../src/block/perm-refresh.js';
import { PERM_ALL, PERM_CONSISTENT_READ, PERM_WRITE } from '../../../src/block/permissions.js';
import { silentLogger } from '../../../src/log.js';
import { AsyncMutex } from '../../../src/util/mutex.js';
import { dict } from '../../helpers/qdict.js';

/** A test driver whose requests wait at a gate the test opens, then take the driver's own lock. */
class Gate {
  private open = false;
  private waiters: (() => void)[] = [];
  readonly lock = new AsyncMutex();
  entered = 0;
  completed = 0;

  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }

  async pass(): Promise<void> {
    this.entered++;
    if (!this.open) await new Promise<void>((r) => this.waiters.push(r));
  }
}

const gates = new Map<string, Gate>();
const heldDriver: BlockDriver = {
  name: 'test-held',
  protocol: true,
  supportsBacking: false,
  async open(ctx): Promise<DriverInstance> {
    const gate = new Gate();
    gates.set(ctx.nodeName, gate);
    return {
      length: () => 1 << 20,
      async read(_o, buf) {
        await gate.pass();
        // the request needs the driver lock to finish, as a qcow2 allocation would
        await gate.lock.run(async () => buf.fill(7));
        gate.completed++;
      },
      async write() {
        await gate.pass();
        await gate.lock.run(async () => {});
        gate.completed++;
      },
      async flush() {
        await gate.lock.run(async () => {});
      },
      async close() {},
    };
  },
};
registerDriver(heldDriver);


async function setup(name: string) {
  const graph = new BlockGraph(silentLogger());
  const node = await blockdevAdd(graph, dict({ driver: 'test-held', 'node-name': name }));
  const bb = new BlockBackend('', PERM_CONSISTENT_READ | PERM_WRITE, PERM_ALL);
  const change = new GraphChange();
  change.link(bb.attach(node));
  refreshPerms(change, graph.locks, [node]);
  change.commit();
  return { graph, node, bb, gate: gates.get(name)! };
}

/** Resolves to 'timeout' if `p` has not settled after a generous delay: a deadlock detector. */
function settles<T>(p: Promise<T>, ms = 2000): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

describe('drained sections', () => {
  it('wait for admitted requests and hold new ones until the section ends', async () => {
    const { node, bb, gate } = await setup('d1');
    const first = bb.read(0, Buffer.alloc(512));
    expect(bb.inFlight.count).toBe(1);
    let drained = false;
    const drain = drainedBegin([node]).then((s) => {
      drained = true;
      return s;
    });
    const second = bb.read(0, Buffer.alloc(512));
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false);
    expect(gate.entered).toBe(1); // the second request was not admitted
    gate.release();
    const section = await drain;
    await first;
    expect(gate.completed).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(gate.entered).toBe(1); // still held while drained
    section.end();
    await second;
    expect(gate.completed).toBe(2);
  });

  it('completes when an in-flight request needs a lock the drainer takes only afterwards (QEMU deadlock shape)', async () => {
    const { node, bb, gate } = await setup('d2');
    const writes = [0, 1, 2, 3].map((i) => bb.write(i * 512, Buffer.alloc(512, i)));
    // the "transaction": drain, then flush under the driver lock, as a snapshot prepare does
    const tx = (async () => {
      const section = await drainedBegin([node]);
      await node.flush();
      section.end();
      return 'done';
    })();
    setTimeout(() => gate.release(), 10);
    expect(await settles(tx)).toBe('done');
    await Promise.all(writes);
    expect(gate.completed).toBe(4);
  });

  it('would deadlock if the drainer held that lock across the drain (the hazard the lock rule forbids)', async () => {
    const { node, bb, gate } = await setup('d3');
    const write = bb.write(0, Buffer.alloc(512));
    const bad = gate.lock.run(async () => {
      setTimeout(() => gate.release(), 10);
      await drainedBegin([node]); // waits for `write`, which waits for the lock held here
      return 'done';
    });
    expect(await settles(bad, 300)).toBe('timeout');
    expect(gate.completed).toBe(0);
    // nothing to clean up deliberately: the promises stay pending in this isolated graph
    void write;
  });
});
