import { describe, expect, it } from 'vitest';
import type { DriverInstance } from '../../../../src/block/drivers/driver.js';
import { formatQcow2, type Qcow2CreateOptions } from '../../../../src/block/drivers/qcow2/create.js';
import { MemChild } from '../../../helpers/file-child.js';
import { openOnChild } from '../../../helpers/qcow2.js';
import { miniCheck } from '../../../helpers/qcow2-check.js';
import { refusal } from '../../../helpers/refusal.js';

const CS = 4096;

async function image(opts: Partial<Qcow2CreateOptions> = {}, backing: MemChild | null = null): Promise<{ inst: DriverInstance; file: MemChild }> {
  const file = new MemChild();
  await formatQcow2(file, { size: 1 << 20, clusterSize: CS, ...opts });
  const inst = await openOnChild(file, backing);
  await inst.write!(0, Buffer.alloc(16 * CS, 0xaa), {});
  return { inst, file };
}

async function statusAt(inst: DriverInstance, off: number): Promise<string> {
  return (await inst.blockStatus!(off, CS)).status;
}

describe('qcow2 zero writes and discards', () => {
  it('keep the host cluster on a zero write without unmap, and give it back with unmap', async () => {
    const { inst, file } = await image();
    await inst.writeZeroes!(0, CS, { mayUnmap: false });
    await inst.writeZeroes!(CS, CS, { mayUnmap: true });
    expect([await statusAt(inst, 0), await statusAt(inst, CS), await statusAt(inst, 2 * CS)]).toEqual(['zero', 'zero', 'data']);
    await inst.close();
    const c = miniCheck(file.contents());
    expect(c).toEqual({ corruptions: [], leaks: [] });
  });

  it('refuse to zero a partial data cluster by writing zeroes when fallback is not allowed', async () => {
    const { inst } = await image();
    expect(await refusal(inst.writeZeroes!(100, CS, { noFallback: true }))).toBe('Operation not supported');
    const buf = Buffer.alloc(2 * CS);
    await inst.read(0, buf);
    expect(buf.every((x) => x === 0xaa)).toBe(true);
    await inst.writeZeroes!(CS, 2 * CS, { noFallback: true });
    expect(await statusAt(inst, CS)).toBe('zero');
  });

  it('write zeroes as data on v2 images, which have no zero flag', async () => {
    const { inst } = await image({ compat: '0.10' });
    expect(await refusal(inst.writeZeroes!(0, CS, { noFallback: true }))).toBe('Operation not supported');
    await inst.writeZeroes!(0, CS, {});
    expect(await statusAt(inst, 0)).toBe('data');
    const buf = Buffer.alloc(CS);
    await inst.read(0, buf);
    expect(buf.every((x) => x === 0)).toBe(true);
  });

  it('discard whole clusters only, leaving the unaligned edges untouched', async () => {
    const { inst, file } = await image();
    await inst.discard!(CS / 2, 3 * CS);
    const buf = Buffer.alloc(4 * CS);
    await inst.read(0, buf);
    expect(buf.subarray(0, CS).every((x) => x === 0xaa)).toBe(true);
    expect(buf.subarray(CS, 3 * CS).every((x) => x === 0)).toBe(true);
    expect(buf.subarray(3 * CS).every((x) => x === 0xaa)).toBe(true);
    // as in QEMU: a discarded allocated cluster of a v3 image keeps reading as zeroes
    expect(await statusAt(inst, CS)).toBe('zero');
    await inst.close();
    expect(miniCheck(file.contents())).toEqual({ corruptions: [], leaks: [] });
  });

  it('leave v2 overlays alone on discard, since the backing data would show through', async () => {
    const base = new MemChild('base', Buffer.alloc(1 << 20, 0x11));
    const { inst } = await image({ compat: '0.10', backingFile: 'base', backingFormat: 'raw' }, base);
    await inst.discard!(0, 4 * CS);
    const buf = Buffer.alloc(4 * CS);
    await inst.read(0, buf);
    expect(buf.every((x) => x === 0xaa)).toBe(true);
  });

  it('make discarded clusters of a v3 overlay read as zeroes rather than backing data', async () => {
    const base = new MemChild('base', Buffer.alloc(1 << 20, 0x11));
    const { inst } = await image({ backingFile: 'base', backingFormat: 'raw' }, base);
    await inst.discard!(0, 4 * CS);
    await inst.discard!(32 * CS, 4 * CS);
    const buf = Buffer.alloc(CS);
    await inst.read(0, buf);
    expect(buf.every((x) => x === 0)).toBe(true);
    await inst.read(32 * CS, buf);
    expect(buf.every((x) => x === 0)).toBe(true);
    expect(await statusAt(inst, 32 * CS)).toBe('zero');
  });
});
