import { describe, expect, it } from 'vitest';
import { RequestParser, type FramingError, type RequestHeader, type RequestSink } from '../../../../../src/block/exports/nbd/requests.js';
import { RawNbdClient, type RequestSpec } from '../../../../helpers/nbd-client.js';

interface Seen {
  type: number;
  flags: number;
  handle: bigint;
  offset: bigint;
  length: number;
  payload: string | null;
}

/** A sink that records requests; WRITE payloads are taken unless `discard` says otherwise. */
class Recorder implements RequestSink {
  readonly seen: Seen[] = [];
  readonly errors: FramingError[] = [];
  constructor(private readonly discard: (h: RequestHeader) => boolean = () => false) {}

  payloadBuffer(h: RequestHeader): Buffer | null {
    return this.discard(h) ? null : Buffer.alloc(h.length, 0xee);
  }

  request(h: RequestHeader, payload: Buffer | null): void {
    this.seen.push({
      type: h.type,
      flags: h.flags,
      handle: (BigInt(h.handleHi) << 32n) | BigInt(h.handleLo),
      offset: (BigInt(h.offsetHi) << 32n) | BigInt(h.offsetLo),
      length: h.length,
      payload: payload ? payload.toString('hex') : null,
    });
  }

  framingError(kind: FramingError): void {
    this.errors.push(kind);
  }
}

const SPECS: RequestSpec[] = [
  { type: 0, flags: 4, handle: 0x55e5803f90a0n, offset: 4096, length: 512 },
  { type: 1, flags: 1, handle: 2n, offset: 2n ** 40n + 7n, data: Buffer.from('0123456789abcdef0123456789abcdef0123') },
  { type: 3, handle: 0xffffffffffffffffn },
  { type: 1, handle: 4n, offset: 1, data: Buffer.from('x') },
  { type: 7, flags: 8, handle: 5n, offset: 2n ** 63n, length: 0xffffffff },
  { type: 1, handle: 6n, length: 0 },
];
const STREAM = Buffer.concat(SPECS.map(RawNbdClient.requestBytes));

function expected(): Seen[] {
  return SPECS.map((s) => ({
    type: s.type,
    flags: s.flags ?? 0,
    handle: s.handle ?? 1n,
    offset: BigInt(s.offset ?? 0),
    length: s.length ?? s.data?.length ?? 0,
    payload: s.data && s.data.length > 0 ? s.data.toString('hex') : null,
  }));
}

function feed(parts: Buffer[], sink = new Recorder()): Recorder {
  const p = new RequestParser(sink);
  for (const part of parts) p.push(part);
  return sink;
}

describe('RequestParser', () => {
  it('parses a stream of requests delivered in one chunk', () => {
    expect(feed([STREAM]).seen).toEqual(expected());
  });

  it('parses the same requests when the stream is split at every byte boundary', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      const r = feed([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      expect(r.seen, `cut at ${cut}`).toEqual(expected());
    }
  });

  it('parses the same requests when every byte arrives alone', () => {
    const parts = [...STREAM].map((b) => Buffer.from([b]));
    expect(feed(parts).seen).toEqual(expected());
  });

  it('skips the payload of a WRITE the sink refuses and keeps the framing', () => {
    const r = feed([STREAM], new Recorder((h) => h.handleLo === 2));
    const want = expected();
    want[1]!.payload = null;
    expect(r.seen).toEqual(want);
  });

  it('reports a bad magic and parses nothing after it', () => {
    const bad = RawNbdClient.requestBytes({ type: 0, magic: 0x25609514 });
    const r = feed([Buffer.concat([RawNbdClient.requestBytes({ type: 3 }), bad, STREAM])]);
    expect(r.seen).toHaveLength(1);
    expect(r.errors).toEqual(['bad-magic']);
  });

  it('reports a WRITE over 32 MiB before asking for a buffer', () => {
    const r = new Recorder();
    let asked = false;
    r.payloadBuffer = () => {
      asked = true;
      return null;
    };
    feed([RawNbdClient.requestBytes({ type: 1, length: 32 * 1024 * 1024 + 1 })], r);
    expect(r.errors).toEqual(['oversized-write']);
    expect(asked).toBe(false);
  });

  it('accepts a WRITE of exactly 32 MiB', () => {
    const data = Buffer.alloc(32 * 1024 * 1024, 1);
    const r = feed([RawNbdClient.requestBytes({ type: 1, data })]);
    expect(r.errors).toEqual([]);
    expect(r.seen[0]!.length).toBe(32 * 1024 * 1024);
  });

  it('holds the bytes that follow a pause and parses them on resume', () => {
    const sink = new Recorder();
    const p = new RequestParser(sink);
    sink.request = function (this: Recorder, h, payload) {
      Recorder.prototype.request.call(this, h, payload);
      if (this.seen.length === 2) p.pause();
    };
    p.push(STREAM);
    expect(sink.seen).toHaveLength(2);
    expect(p.buffered).toBe(STREAM.length - RawNbdClient.requestBytes(SPECS[0]!).length - RawNbdClient.requestBytes(SPECS[1]!).length);
    p.resume();
    expect(sink.seen).toEqual(expected());
    expect(p.buffered).toBe(0);
  });

  it('ignores everything after stop()', () => {
    const sink = new Recorder();
    const p = new RequestParser(sink);
    p.push(STREAM.subarray(0, 10));
    p.stop();
    p.push(STREAM.subarray(10));
    expect(sink.seen).toEqual([]);
    expect(p.dead).toBe(true);
  });
});
