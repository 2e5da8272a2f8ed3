import { describe, expect, it } from 'vitest';
import { ExportTable } from '../../../../../src/block/exports/nbd/export-table.js';
import { Handshake, type HandshakeResult } from '../../../../../src/block/exports/nbd/handshake.js';
import { MemoryBackend } from '../../../../helpers/nbd-backends.js';
import { RawNbdClient } from '../../../../helpers/nbd-client.js';

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function opt(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from('IHAVEOPT'), u32(option), u32(data.length), data]);
}

interface Run {
  sent: Buffer[];
  out: Buffer;
  ready: HandshakeResult | null;
  closed: string | null;
  hs: Handshake;
}

function table(): ExportTable {
  const t = new ExportTable();
  t.add(new MemoryBackend({ name: 'disk', size: 1 << 20, description: 'hello' }), true);
  t.add(new MemoryBackend({ name: 'bm', size: 1 << 20, writable: false, allocationDepth: true, bitmaps: ['b0', 'b1'] }), true);
  return t;
}

function run(parts: Buffer[], blocked: () => boolean = () => false): Run {
  const sent: Buffer[] = [];
  const r: Run = { sent, out: Buffer.alloc(0), ready: null, closed: null, hs: null as unknown as Handshake };
  r.hs = new Handshake(table(), {
    send: (b) => sent.push(Buffer.from(b)),
    ready: (res) => (r.ready = res),
    close: (reason) => (r.closed = reason),
    blocked,
  });
  for (const p of parts) r.hs.push(p);
  r.out = Buffer.concat(sent);
  return r;
}

/** Option replies as [option, type, payload text]. */
function replies(out: Buffer): [number, number, string][] {
  const list: [number, number, string][] = [];
  for (let pos = 0; pos < out.length; ) {
    const len = out.readUInt32BE(pos + 16);
    list.push([out.readUInt32BE(pos + 8), out.readUInt32BE(pos + 12), out.subarray(pos + 20, pos + 20 + len).toString('latin1')]);
    pos += 20 + len;
  }
  return list;
}

const TRAILING = RawNbdClient.requestBytes({ type: 0, length: 512 });
const SESSION = Buffer.concat([
  u32(3),
  opt(8),
  opt(3),
  opt(10, RawNbdClient.metaData('bm', ['base:allocation', 'qemu:dirty-bitmap:b1'])),
  opt(99, Buffer.from('ignored data')),
  opt(7, RawNbdClient.infoData('bm', [1, 3])),
  TRAILING,
]);

describe('Handshake', () => {
  it('greets with NBDMAGIC, IHAVEOPT and the fixed-newstyle and no-zeroes flags', () => {
    expect(Handshake.greeting().toString('hex')).toBe('4e42444d41474943' + '49484156454f5054' + '0003');
  });

  it('negotiates a whole session and passes on the bytes that follow GO', () => {
    const r = run([SESSION]);
    expect(r.closed).toBeNull();
    expect(r.ready?.entry.backend.name).toBe('bm');
    expect(r.ready?.structured).toBe(true);
    expect(r.ready?.meta?.contexts()).toEqual([
      { id: 0, name: 'base:allocation' },
      { id: 3, name: 'qemu:dirty-bitmap:b1' },
    ]);
    expect(r.ready?.rest?.equals(TRAILING)).toBe(true);
    expect(replies(r.out).map(([o, t]) => [o, t])).toEqual([
      [8, 1],
      [3, 2],
      [3, 2],
      [3, 1],
      [10, 4],
      [10, 4],
      [10, 1],
      [99, 0x80000001],
      [7, 3],
      [7, 3],
      [7, 3],
      [7, 1],
    ]);
  });

  it('answers identically whatever the chunking, split at every byte boundary', () => {
    const whole = run([SESSION]);
    for (let cut = 1; cut < SESSION.length; cut++) {
      const r = run([SESSION.subarray(0, cut), SESSION.subarray(cut)]);
      expect(r.out.equals(whole.out), `cut at ${cut}`).toBe(true);
      // Bytes after GO in the chunk that completes it are handed on; later chunks go to the request parser.
      const goEnd = SESSION.length - TRAILING.length;
      const rest = cut < goEnd ? TRAILING : SESSION.subarray(goEnd, cut);
      expect((r.ready?.rest ?? Buffer.alloc(0)).equals(rest), `rest at ${cut}`).toBe(true);
    }
  });

  it('refuses a known option longer than 1 MiB with ERR_TOO_BIG after dropping its data unread', () => {
    const big = Buffer.alloc(1024 * 1024 + 1);
    const r = run([Buffer.concat([u32(3), opt(6, big), opt(3)])]);
    expect(replies(r.out).map(([o, t]) => [o, t])).toEqual([
      [6, 0x80000009],
      [3, 2],
      [3, 2],
      [3, 1],
    ]);
  });

  it('hangs up on an option length over 32 MiB without waiting for its data', () => {
    const r = run([Buffer.concat([u32(3), Buffer.from('IHAVEOPT'), u32(99), u32(32 * 1024 * 1024 + 1)])]);
    expect(r.closed).toBe('len (33554433 ) is larger than max len (33554432)');
    expect(r.out.length).toBe(0);
  });

  it('acknowledges ABORT at once and closes, whatever data it announces', () => {
    const r = run([Buffer.concat([u32(3), Buffer.from('IHAVEOPT'), u32(2), u32(1000)])]);
    expect(replies(r.out)).toEqual([[2, 1, '']]);
    expect(r.closed).not.toBeNull();
  });

  it('holds the next option while replies are piling up and goes on when resumed', () => {
    let blocked = true;
    const r = run([Buffer.concat([u32(3), opt(3), opt(3)])], () => blocked);
    expect(r.sent).toHaveLength(0);
    blocked = false;
    r.hs.resume();
    expect(replies(Buffer.concat(r.sent)).map(([o, t]) => [o, t])).toEqual([
      [3, 2],
      [3, 2],
      [3, 1],
      [3, 2],
      [3, 2],
      [3, 1],
    ]);
  });

  it('drops meta contexts negotiated for another export when GO selects a different one', () => {
    const input = Buffer.concat([
      u32(3),
      opt(8),
      opt(10, RawNbdClient.metaData('bm', ['base:allocation'])),
      opt(7, RawNbdClient.infoData('disk')),
    ]);
    const r = run([input]);
    expect(r.ready?.entry.backend.name).toBe('disk');
    expect(r.ready?.meta).toBeNull();
  });

  it('starts transmission after EXPORT_NAME with 134 bytes of export info for a client without NO_ZEROES', () => {
    const r = run([Buffer.concat([u32(1), opt(1, Buffer.from('disk'))])]);
    expect(r.out.length).toBe(134);
    expect(r.out.readBigUInt64BE(0)).toBe(1048576n);
    expect(r.out.readUInt16BE(8)).toBe(0x0d6d);
    expect(r.ready?.entry.backend.name).toBe('disk');
  });
});
