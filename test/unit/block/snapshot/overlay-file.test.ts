import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import '../../../../src/block/drivers/index.js';
import type { DriverInstance } from '../../../../src/block/drivers/driver.js';
import { fileDriver } from '../../../../src/block/drivers/file.js';
import { BlockGraph } from '../../../../src/block/graph.js';
import { createOverlayFile } from '../../../../src/block/snapshot/overlay-file.js';
import { silentLogger } from '../../../../src/log.js';
import { newDict } from '../../../../src/qmp/json/value.js';

describe('overlay file taken over by its file node', () => {
  let dir: string;
  let instance: DriverInstance | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'overlay-'));
  });
  afterEach(async () => {
    await instance?.close();
    instance = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function adopt(path: string): Promise<{ inst: DriverInstance; onDisk: Buffer }> {
    const file = await createOverlayFile(new BlockGraph(silentLogger()), {
      path,
      format: 'qcow2',
      size: 1 << 30,
      backingFile: 'base.qcow2',
      backingFormat: 'qcow2',
    });
    const opened = file.takeOpened();
    expect(opened?.head).toBeDefined();
    const options = Object.assign(newDict(), { driver: 'file', filename: path });
    const inst = await fileDriver.open({
      nodeName: 'f',
      options,
      readOnly: false,
      openedFile: opened,
      backing: () => null,
      log: silentLogger(),
    });
    instance = inst;
    return { inst, onDisk: readFileSync(path) };
  }

  it('answers reads from the recorded head exactly as the file on disk reads', async () => {
    const { inst, onDisk } = await adopt(join(dir, 'o.qcow2'));
    expect(inst.length()).toBe(onDisk.length);
    const whole = Buffer.alloc(onDisk.length);
    await inst.read(0, whole);
    expect(whole.equals(onDisk)).toBe(true);
    // straddling and beyond the end of the file: zeroes, as a read from disk gives
    const past = Buffer.alloc(4096, 0xaa);
    await inst.read(onDisk.length - 100, past);
    expect(past.subarray(0, 100).equals(onDisk.subarray(onDisk.length - 100))).toBe(true);
    expect(past.subarray(100).every((b) => b === 0)).toBe(true);
  });

  it('hands its head over once, then reads from the file', async () => {
    const { inst, onDisk } = await adopt(join(dir, 'o.qcow2'));
    const head = inst.takeKnownHead?.();
    expect(head?.equals(onDisk.subarray(0, head.length))).toBe(true);
    expect(inst.takeKnownHead?.()).toBeUndefined();
    const again = Buffer.alloc(onDisk.length);
    await inst.read(0, again);
    expect(again.equals(onDisk)).toBe(true);
  });

  it('reads what was written after the first write, not the stale head', async () => {
    const { inst } = await adopt(join(dir, 'o.qcow2'));
    await inst.write!(0, Buffer.from('QMPD'), {});
    const got = Buffer.alloc(4);
    await inst.read(0, got);
    expect(got.toString()).toBe('QMPD');
    expect(readFileSync(join(dir, 'o.qcow2')).subarray(0, 4).toString()).toBe('QMPD');
  });
});
