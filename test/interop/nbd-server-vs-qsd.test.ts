/**
 * Differential test of the NBD protocol engine: the same bytes go to
 * qemu-storage-daemon and to our NbdServer, and the bytes that come back
 * must be the same — option replies, transmission flags, error values and
 * texts, and whether the connection is dropped. Each exchange ends with a
 * sentinel whose reply is known, so no timing decides where output ends.
 * Two answers differ on purpose and are checked as such.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { MemoryBackend } from '../helpers/nbd-backends.js';
import { RawNbdClient, type RequestSpec } from '../helpers/nbd-client.js';
import { startNbd, type NbdFixture } from '../helpers/nbd-fixture.js';
import { skipWithout } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function opt(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from('IHAVEOPT'), u32(option), u32(data.length), data]);
}

const info = RawNbdClient.infoData;
const meta = RawNbdClient.metaData;
const req = RawNbdClient.requestBytes;
const SR = opt(8);
const FLAGS = u32(3);

/** Option 99 is always refused with this reply: it marks the end of a handshake exchange. */
const OPT_SENTINEL = opt(99);
const SENTINEL_TEXT = Buffer.from('Unsupported option 99 (<unknown>)');
const OPT_SENTINEL_REPLY = Buffer.concat([
  Buffer.from('0003e889045565a9', 'hex'),
  u32(99),
  u32(0x80000001),
  u32(SENTINEL_TEXT.length),
  SENTINEL_TEXT,
]);
/** Command 9 gets EINVAL: the end of a transmission exchange. */
const CMD_SENTINEL = req({ type: 9, handle: 0x5e471e1n });

/** Sends `input`, then reads until the output ends with `until` or the server closes. */
async function exchange(path: string, input: Buffer, until: Buffer | ((out: Buffer) => boolean)): Promise<{ out: string; closed: boolean }> {
  const sock = connect(path);
  const chunks: Buffer[] = [];
  const done = (out: Buffer): boolean => (typeof until === 'function' ? until(out) : out.length >= until.length && out.subarray(out.length - until.length).equals(until));
  const closed = await new Promise<boolean>((resolve) => {
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (done(Buffer.concat(chunks))) resolve(false);
    });
    sock.on('close', () => resolve(true));
    sock.on('error', () => undefined);
    sock.write(input);
  });
  sock.destroy();
  return { out: Buffer.concat(chunks).toString('hex'), closed };
}

/** The transmission sentinel's reply: an ERROR chunk (structured) or a simple EINVAL reply, for handle 0x5e471e1. */
function endsWithCmdSentinel(out: Buffer): boolean {
  const handle = Buffer.from('0000000005e471e1', 'hex');
  const simple = Buffer.concat([Buffer.from('67446698', 'hex'), u32(22), handle]);
  if (out.length >= 16 && out.subarray(out.length - 16).equals(simple)) return true;
  const msg = Buffer.from('invalid request type (9) received');
  return out.length > msg.length && out.subarray(out.length - msg.length).equals(msg) && out.includes(handle);
}

const HANDSHAKES: [string, Buffer][] = [
  ['INFO before structured replies, no info requested', Buffer.concat([FLAGS, opt(6, info('disk'))])],
  ['INFO asking for name and block size', Buffer.concat([FLAGS, opt(6, info('disk', [1, 3]))])],
  ['INFO with unknown info types', Buffer.concat([FLAGS, SR, opt(6, info('disk', [9, 0, 2, 1]))])],
  ['INFO on the read-only export', Buffer.concat([FLAGS, SR, opt(6, info('ro', [3]))])],
  ['INFO on an unknown export', Buffer.concat([FLAGS, opt(6, info('nope'))])],
  ['INFO on an unknown, very long name', Buffer.concat([FLAGS, opt(6, info('x'.repeat(200)))])],
  ['INFO on the empty name', Buffer.concat([FLAGS, opt(6, info(''))])],
  ['INFO with trailing bytes', Buffer.concat([FLAGS, opt(6, Buffer.concat([info('disk'), Buffer.from('zz')]))])],
  ['INFO cut short in the name', Buffer.concat([FLAGS, opt(6, Buffer.concat([u32(4), Buffer.from('dis')]))])],
  ['INFO announcing more requests than sent', Buffer.concat([FLAGS, opt(6, Buffer.concat([u32(4), Buffer.from('disk'), Buffer.from('00020001', 'hex')]))])],
  ['INFO with a NUL in the name', Buffer.concat([FLAGS, opt(6, info('di\0k'))])],
  ['INFO with a name over 4096 bytes', Buffer.concat([FLAGS, opt(6, Buffer.concat([u32(5000), Buffer.alloc(5000, 97), Buffer.alloc(2)]))])],
  ['LIST', Buffer.concat([FLAGS, opt(3)])],
  ['LIST with data', Buffer.concat([FLAGS, opt(3, Buffer.from('x'))])],
  ['STRUCTURED_REPLY twice', Buffer.concat([FLAGS, SR, SR])],
  ['STRUCTURED_REPLY with data', Buffer.concat([FLAGS, opt(8, Buffer.from('x'))])],
  ['STARTTLS without TLS', Buffer.concat([FLAGS, opt(5)])],
  ['STARTTLS with data', Buffer.concat([FLAGS, opt(5, Buffer.from('x'))])],
  ['withdrawn and unknown options', Buffer.concat([FLAGS, opt(4, Buffer.from('ab')), opt(11), opt(12, Buffer.alloc(100)), opt(0), opt(0xffffffff)])],
  ['SET_META_CONTEXT before structured replies', Buffer.concat([FLAGS, opt(10, meta('disk', ['base:allocation']))])],
  ['LIST_META_CONTEXT before structured replies', Buffer.concat([FLAGS, opt(9, meta('disk', ['base:allocation']))])],
  ['LIST_META_CONTEXT on an unknown export', Buffer.concat([FLAGS, opt(9, meta('nope', []))])],
  ['LIST_META_CONTEXT with no query', Buffer.concat([FLAGS, opt(9, meta('ro', []))])],
  ['LIST_META_CONTEXT with namespace queries', Buffer.concat([FLAGS, opt(9, meta('ro', ['qemu:'])), opt(9, meta('ro', ['base:', 'qemu:allocation-depth', 'qemu:dirty-bitmap:']))])],
  ['SET_META_CONTEXT with duplicates and unknowns', Buffer.concat([FLAGS, SR, opt(10, meta('ro', ['qemu:allocation-depth', 'base:allocation', 'base:allocation', 'qemu:', 'foo:bar', 'base:xyz']))])],
  ['SET_META_CONTEXT with no query', Buffer.concat([FLAGS, SR, opt(10, meta('ro', []))])],
  ['SET_META_CONTEXT of a context the export lacks', Buffer.concat([FLAGS, SR, opt(10, meta('disk', ['qemu:allocation-depth']))])],
  ['SET_META_CONTEXT with fewer queries than announced', Buffer.concat([FLAGS, SR, opt(10, meta('disk', ['base:allocation']).fill(0, 8, 11).fill(2, 11, 12))])],
  ['SET_META_CONTEXT with an over-long query', Buffer.concat([FLAGS, SR, opt(10, Buffer.concat([u32(4), Buffer.from('disk'), u32(2), u32(5000), Buffer.alloc(5000, 113), u32(15), Buffer.from('base:allocation')]))])],
];

const CLOSING: [string, Buffer][] = [
  ['unknown client flags', u32(4)],
  ['an option with a bad magic', Buffer.concat([FLAGS, Buffer.from('IHAVEOPU'), u32(3), u32(0)])],
  ['an option longer than 32 MiB', Buffer.concat([FLAGS, Buffer.from('IHAVEOPT'), u32(99), u32(32 * MiB + 1)])],
  ['LIST from a client without fixed newstyle', Buffer.concat([u32(0), opt(3)])],
  ['EXPORT_NAME of an unknown export', Buffer.concat([FLAGS, opt(1, Buffer.from('nope'))])],
];

const S = SIZE;
/** Requests per case; handles are numbered from 1 so that replies, which come in completion order, can be matched. */
const TRANSMISSION: [string, RequestSpec[]][] = [
  ['READ past the end', [{ type: 0, offset: S - 512, length: 1024 }]],
  ['WRITE past the end (payload consumed)', [{ type: 1, offset: S - 512, length: 1024, data: Buffer.alloc(1024, 120) }]],
  ['WRITE_ZEROES, TRIM and CACHE past the end', [{ type: 6, offset: S - 512, length: 1024 }, { type: 4, offset: S - 512, length: 1024 }, { type: 5, offset: S - 512, length: 1024 }]],
  ['BLOCK_STATUS without a context', [{ type: 7, length: 1024 }]],
  ['an unknown command', [{ type: 9 }, { type: 200, flags: 2, offset: S + 1 }]],
  ['flags a command does not take', [{ type: 0, length: 512, flags: 2 }, { type: 1, length: 4, flags: 4, data: Buffer.from('abcd') }, { type: 0, length: 512, flags: 0x40 }, { type: 7, length: 512, flags: 4 }, { type: 3, flags: 0x8000 }]],
  ['a READ of a hole with FUA and a DF read', [{ type: 0, offset: MiB, length: 16, flags: 1 }, { type: 0, length: 8192, flags: 4 }]],
  ['zero-length READ and WRITE', [{ type: 0 }, { type: 1 }, { type: 0, offset: S + 1 }, { type: 1, offset: S + 10 }]],
  ['READ and CACHE over 32 MiB', [{ type: 0, length: 32 * MiB + 512 }, { type: 5, length: 64 * MiB }]],
  ['TRIM and WRITE_ZEROES over 32 MiB', [{ type: 4, length: 64 * MiB }, { type: 6, length: 64 * MiB }]],
  ['FLUSH with an offset and length', [{ type: 3, offset: 5, length: 7 }, { type: 3, offset: S + 1 }]],
  ['WRITE_ZEROES with NO_HOLE and TRIM with FUA', [{ type: 6, length: 4096, flags: 2 }, { type: 4, length: 4096, flags: 1 }]],
  ['offsets beyond 2^53 and wrapping', [{ type: 0, offset: 2n ** 63n, length: 1 }, { type: 0, offset: 2n ** 64n - 512n, length: 1024 }]],
];

/** Splits server output into the handshake bytes and one hex string per transmission reply (all chunks of it). */
function splitReplies(out: Buffer, readLengths: Map<bigint, number>): { handshake: string; replies: string[] } | undefined {
  let pos = 18; // the greeting
  for (;;) {
    if (out.length < pos + 20) return undefined;
    const len = out.readUInt32BE(pos + 16);
    const last = out.readUInt32BE(pos + 8) === 7 && out.readUInt32BE(pos + 12) === 1;
    pos += 20 + len;
    if (last) break;
  }
  const handshake = out.subarray(0, pos).toString('hex');
  const replies: string[] = [];
  const open = new Map<bigint, string>();
  while (pos < out.length) {
    if (out.length < pos + 16) break;
    const magic = out.readUInt32BE(pos);
    let size: number;
    let handle: bigint;
    let done: boolean;
    if (magic === 0x67446698) {
      handle = out.readBigUInt64BE(pos + 8);
      size = 16 + (out.readUInt32BE(pos + 4) === 0 ? (readLengths.get(handle) ?? 0) : 0);
      done = true;
    } else {
      if (out.length < pos + 20) break;
      handle = out.readBigUInt64BE(pos + 8);
      size = 20 + out.readUInt32BE(pos + 16);
      done = (out.readUInt16BE(pos + 4) & 1) !== 0;
    }
    if (out.length < pos + size) break;
    const text = (open.get(handle) ?? '') + out.subarray(pos, pos + size).toString('hex');
    if (done) {
      open.delete(handle);
      replies.push(text);
    } else open.set(handle, text);
    pos += size;
  }
  return { handshake, replies: replies.sort() };
}

describe.skipIf(skipWithout('qemu-storage-daemon', 'qemu-img'))('NBD server compared with qemu-storage-daemon', () => {
  let qsd: TestDaemon;
  let ours: NbdFixture;
  let qsdSock: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nbd-diff-'));
    for (const f of ['disk.raw', 'ro.raw']) execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, f), String(SIZE)]);
    qsdSock = join(dir, 'qsd-nbd.sock');
    qsd = await TestDaemon.start({
      kind: 'qsd',
      dir,
      args: [
        '--blockdev', `driver=file,filename=${join(dir, 'disk.raw')},node-name=n1`,
        '--blockdev', `driver=file,filename=${join(dir, 'ro.raw')},node-name=n2,read-only=on`,
        '--nbd-server', `addr.type=unix,addr.path=${qsdSock}`,
        '--export', 'type=nbd,id=e1,node-name=n1,name=disk,writable=on,description=hello',
        '--export', 'type=nbd,id=e2,node-name=n2,name=ro,allocation-depth=on',
      ],
    });
    while (!existsSync(qsdSock)) await new Promise((r) => setTimeout(r, 10));
    ours = await startNbd([
      new MemoryBackend({ name: 'disk', size: SIZE, description: 'hello' }),
      new MemoryBackend({ name: 'ro', size: SIZE, writable: false, allocationDepth: true }),
    ]);
  });

  afterAll(async () => {
    await ours?.[Symbol.asyncDispose]();
    await qsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const both = async (input: Buffer, until: Buffer | ((out: Buffer) => boolean)) => ({
    theirs: await exchange(qsdSock, input, until),
    mine: await exchange(ours.socket, input, until),
  });

  it.each(HANDSHAKES)('answers %s as QEMU does', async (_name, input) => {
    const { theirs, mine } = await both(Buffer.concat([input, OPT_SENTINEL]), OPT_SENTINEL_REPLY);
    expect(theirs.closed).toBe(false);
    expect(mine).toEqual(theirs);
  });

  it.each(CLOSING)('hangs up on %s as QEMU does', async (_name, input) => {
    const { theirs, mine } = await both(Buffer.concat([input, OPT_SENTINEL]), OPT_SENTINEL_REPLY);
    expect(theirs.closed).toBe(true);
    expect(mine).toEqual(theirs);
  });

  it('sends the same export info after EXPORT_NAME, with and without NO_ZEROES', async () => {
    for (const flags of [3, 1]) {
      const input = Buffer.concat([u32(flags), SR, opt(1, Buffer.from('disk')), CMD_SENTINEL]);
      const { theirs, mine } = await both(input, endsWithCmdSentinel);
      expect(mine).toEqual(theirs);
    }
  });

  describe.each([
    ['structured replies', true],
    ['simple replies', false],
  ])('in transmission with %s', (_mode, structured) => {
    const go = Buffer.concat([FLAGS, ...(structured ? [SR] : []), opt(7, info('disk', [3]))]);
    it.each(TRANSMISSION)('answers %s as QEMU does', async (_name, specs) => {
      const numbered = specs.map((r, i) => ({ ...r, handle: BigInt(i + 1) }));
      const readLengths = new Map(numbered.filter((r) => r.type === 0).map((r) => [r.handle, r.length ?? 0] as const));
      const expected = numbered.filter((r) => r.type !== 2).length;
      const input = Buffer.concat([go, ...numbered.map(req)]);
      const split = (o: Buffer) => splitReplies(o, readLengths);
      const { theirs, mine } = await both(input, (o) => (split(o)?.replies.length ?? 0) === expected);
      expect(theirs.closed).toBe(false);
      expect(mine.closed).toBe(false);
      expect(split(Buffer.from(mine.out, 'hex'))).toEqual(split(Buffer.from(theirs.out, 'hex')));
    });

    it('answers a bad request magic with EINVAL and hangs up as QEMU does', async () => {
      const input = Buffer.concat([go, req({ type: 0, length: 512, magic: 0x25609514 }), CMD_SENTINEL]);
      const { theirs, mine } = await both(input, () => false);
      expect(theirs.closed).toBe(true);
      expect(mine).toEqual(theirs);
    });

    it('answers a WRITE over 32 MiB with EINVAL and hangs up as QEMU does', async () => {
      const input = Buffer.concat([go, req({ type: 1, length: 32 * MiB + 1 }), CMD_SENTINEL]);
      const { theirs, mine } = await both(input, () => false);
      expect(theirs.closed).toBe(true);
      expect(mine).toEqual(theirs);
    });

    it('closes without a reply on NBD_CMD_DISC as QEMU does', async () => {
      const input = Buffer.concat([go, req({ type: 2, offset: 1, length: 1 }), CMD_SENTINEL]);
      const { theirs, mine } = await both(input, () => false);
      expect(theirs.closed).toBe(true);
      expect(mine).toEqual(theirs);
    });
  });

  it('refuses writes on a read-only export with EPERM where QEMU says EINVAL, with the same text', async () => {
    const go = Buffer.concat([FLAGS, SR, opt(7, info('ro', [3]))]);
    const input = Buffer.concat([go, req({ type: 1, length: 4, data: Buffer.from('abcd') }), CMD_SENTINEL]);
    const { theirs, mine } = await both(input, endsWithCmdSentinel);
    const errorChunk = (error: number) =>
      Buffer.concat([Buffer.from('668e33ef00018001', 'hex'), Buffer.from('0000000000000001', 'hex'), u32(25), u32(error), Buffer.from('0013', 'hex'), Buffer.from('Export is read-only')]).toString('hex');
    expect(theirs.out).toContain(errorChunk(22));
    expect(mine.out).toBe(theirs.out.replace(errorChunk(22), errorChunk(1)));
  });

  it('refuses trailing bytes after meta context queries where QEMU loses the option framing', async () => {
    const input = Buffer.concat([FLAGS, SR, opt(10, Buffer.concat([meta('disk', ['base:allocation']), Buffer.from('zz')])), OPT_SENTINEL]);
    const { theirs, mine } = await both(input, OPT_SENTINEL_REPLY);
    expect(theirs.closed).toBe(true);
    expect(mine.closed).toBe(false);
    expect(mine.out).toContain(Buffer.from("option 'set meta context' has unexpected length").toString('hex'));
  });
});
