/**
 * Hostile input: random handshakes (random bytes and option frames with
 * random codes and data) and random request streams (structurally valid but
 * out of range, oversized, with bad flags, unknown commands, bad magic) must
 * leave the server running, change the data only as the valid writes in the
 * stream say, and not disturb a well-behaved client working on another export.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../../helpers/nbd-backends.js';
import { RawNbdClient, type RequestSpec } from '../../../../helpers/nbd-client.js';
import { startNbd, type NbdFixture } from '../../../../helpers/nbd-fixture.js';

const SIZE = 1024 * 1024;
const GRANULE = 64 * 1024;
const MAX_PAYLOAD = 32 * 1024 * 1024;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

const NAMES = ['fuzz', 'ro', '', 'nope', 'x'.repeat(300)];

const optionFrame = fc.oneof(
  fc.record({ option: fc.integer({ min: 0, max: 12 }), data: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ option: fc.constantFrom(6, 7), data: fc.tuple(fc.constantFrom(...NAMES), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 })).map(([n, i]) => RawNbdClient.infoData(n, i)) }),
  fc.record({ option: fc.constantFrom(9, 10), data: fc.tuple(fc.constantFrom(...NAMES), fc.array(fc.constantFrom('base:allocation', 'base:', 'qemu:', 'qemu:allocation-depth', 'qemu:dirty-bitmap:b0', 'nope:x', ''), { maxLength: 4 })).map(([n, q]) => RawNbdClient.metaData(n, q)) }),
  fc.record({ option: fc.constant(1), data: fc.constantFrom(...NAMES).map((n) => Buffer.from(n)) }),
).map(({ option, data }) => Buffer.concat([Buffer.from('IHAVEOPT'), u32(option), u32(data.length), Buffer.from(data)]));

const handshakeInput = fc.tuple(
  fc.oneof(fc.constant(3), fc.constant(1), fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })).map(u32),
  fc.array(fc.oneof({ weight: 4, arbitrary: optionFrame }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)) }), { maxLength: 8 }),
).map(([flags, frames]) => Buffer.concat([flags, ...frames]));

const offset = fc.oneof(
  fc.integer({ min: 0, max: SIZE }),
  fc.constantFrom(0, SIZE - 1, SIZE, SIZE + 1, 2 ** 32, 2 ** 53 - 1),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const length = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, SIZE, MAX_PAYLOAD, MAX_PAYLOAD + 1, 0xffffffff) },
);
type Item = { kind: 'req'; spec: RequestSpec } | { kind: 'junk'; bytes: Buffer };
const item: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .record({
        type: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
        flags: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 0, max: 0x1f }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
        offset,
        length,
        fill: fc.integer({ min: 1, max: 255 }),
      })
      .filter((r) => r.type !== 2)
      .map((r) => {
        const spec: RequestSpec = { type: r.type, flags: r.flags, offset: r.offset, length: r.length };
        // A WRITE that claims more than 32 MiB carries no payload: the server hangs up before reading it.
        if (r.type === 1 && r.length <= MAX_PAYLOAD) spec.data = Buffer.alloc(r.length, r.fill);
        return { kind: 'req' as const, spec };
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 28, maxLength: 28 }).map((a) => ({ kind: 'junk' as const, bytes: Buffer.from(a).fill(0x7f, 0, 1) })) },
);

/** What the export must hold after the stream: valid writes, zeroes and trims applied in order, up to the first framing error. */
function model(before: Buffer, items: Item[]): Buffer {
  const d = Buffer.from(before);
  for (const it of items) {
    if (it.kind === 'junk') break;
    const { type, flags = 0, length: len = 0 } = it.spec;
    const off = BigInt(it.spec.offset ?? 0);
    if (type === 1 && len > MAX_PAYLOAD) break;
    const inRange = off <= BigInt(SIZE) && BigInt(len) <= BigInt(SIZE) - off;
    if (!inRange) continue;
    const o = Number(off);
    if (type === 1 && (flags & ~1) === 0) it.spec.data!.copy(d, o);
    if (type === 6 && (flags & ~0x13) === 0) d.fill(0, o, o + len);
    if (type === 4 && (flags & ~1) === 0) {
      for (let g = Math.ceil(o / GRANULE); (g + 1) * GRANULE <= o + len; g++) d.fill(0, g * GRANULE, (g + 1) * GRANULE);
    }
  }
  return d;
}

/** Sends everything, half-closes, and waits until the server has closed the connection. */
async function deliver(path: string, bytes: Buffer, preamble?: (c: RawNbdClient) => Promise<void>): Promise<void> {
  const c = await RawNbdClient.connect(path);
  if (preamble) await preamble(c);
  c.socket.end(bytes);
  await c.closed;
}

describe('NBD server under hostile input', () => {
  let f: NbdFixture;
  let fuzz: MemoryBackend;
  let ro: MemoryBackend;
  let roBefore: Buffer;
  let goodClient: { stop: () => Promise<{ rounds: number; failures: string[] }> };

  beforeAll(async () => {
    fuzz = new MemoryBackend({ name: 'fuzz', size: SIZE, allocationDepth: true, bitmaps: ['b0'] });
    // Non-zero content everywhere, so that every zeroing and trim shows.
    fuzz.data.fill(0x5a);
    fuzz.state.fill(1);
    ro = new MemoryBackend({ name: 'ro', size: SIZE, writable: false });
    for (let i = 0; i < SIZE; i++) ro.data[i] = (i * 7) & 0xff;
    roBefore = Buffer.from(ro.data);
    const good = new MemoryBackend({ name: 'good', size: SIZE });
    f = await startNbd([fuzz, ro, good], { handshakeTimeoutMs: 2000 });
    goodClient = startGoodClient(f.socket);
  });

  afterAll(async () => {
    await f[Symbol.asyncDispose]();
  });

  it('survives random handshakes and leaves the read-only data unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(handshakeInput, fc.array(item, { maxLength: 12 }), async (hs, items) => {
        const tail = Buffer.concat(items.map((i) => (i.kind === 'junk' ? i.bytes : RawNbdClient.requestBytes(i.spec))));
        await deliver(f.socket, Buffer.concat([hs, tail]));
      }),
      { numRuns: 150 },
    );
    expect(ro.data.equals(roBefore)).toBe(true);
  });

  it('applies exactly the valid writes of random request streams and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(item, { minLength: 1, maxLength: 25 }), async (structured, items) => {
        const before = Buffer.from(fuzz.data);
        const bytes = Buffer.concat(items.map((i) => (i.kind === 'junk' ? i.bytes : RawNbdClient.requestBytes(i.spec))));
        await deliver(f.socket, bytes, async (c) => {
          await c.open('fuzz', { structured, meta: structured ? ['base:allocation', 'qemu:allocation-depth', 'qemu:dirty-bitmap:b0'] : undefined });
        });
        expect(fuzz.data.equals(model(before, items))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps serving a well-behaved client on another export throughout', async () => {
    const { rounds, failures } = await goodClient.stop();
    expect(failures).toEqual([]);
    expect(rounds).toBeGreaterThan(0);
    const c = await RawNbdClient.connect(f.socket);
    await c.open('ro');
    c.request({ type: 0, length: 4096, offset: 4096, flags: 4 });
    const [r] = await c.replies();
    expect(r?.kind === 'chunk' && r.payload.subarray(8).equals(roBefore.subarray(4096, 8192))).toBe(true);
    c.close();
  });
});

/** Writes a pattern, reads it back, checks it; round after round until stopped. */
function startGoodClient(path: string): { stop: () => Promise<{ rounds: number; failures: string[] }> } {
  let stopping = false;
  const failures: string[] = [];
  let rounds = 0;
  const loop = (async () => {
    const c = await RawNbdClient.connect(path);
    await c.open('good');
    while (!stopping) {
      const fill = (rounds % 250) + 1;
      const off = (rounds * 4096) % (SIZE - 65536);
      c.request({ type: 1, handle: 1n, offset: off, data: Buffer.alloc(65536, fill) });
      const w = await c.replies();
      if (w[0]?.kind !== 'simple' || w[0].error !== 0) failures.push(`write ${rounds}`);
      c.request({ type: 0, handle: 2n, offset: off, length: 65536, flags: 4 });
      const [r] = await c.replies();
      if (r?.kind !== 'chunk' || !r.payload.subarray(8).equals(Buffer.alloc(65536, fill))) failures.push(`read ${rounds}`);
      rounds++;
      await new Promise((res) => setImmediate(res));
    }
    c.close();
  })().catch((err: unknown) => failures.push(String(err)));
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return { rounds, failures };
    },
  };
}
