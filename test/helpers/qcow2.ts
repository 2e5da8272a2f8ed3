/** Opening qcow2 images in tests, without the graph. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ChildIo, DriverInstance } from '../../src/block/drivers/driver.js';
import { qcow2 } from '../../src/block/drivers/qcow2/driver.js';
import { newDict } from '../../src/qmp/json/value.js';
import { silentLogger } from '../../src/log.js';
import { FileChild } from './file-child.js';

export interface OpenedQcow2 {
  instance: DriverInstance;
  file: FileChild;
  close(): Promise<void>;
}

export function openOnChild(file: ChildIo, backing: ChildIo | null = null, readOnly = false): Promise<DriverInstance> {
  return qcow2.open({
    nodeName: 'qcow2-test',
    options: newDict(),
    readOnly,
    file,
    backing: () => backing,
    log: silentLogger(),
  });
}

export async function openQcow2(path: string, opts: { backing?: ChildIo | null; readOnly?: boolean } = {}): Promise<OpenedQcow2> {
  const file = await FileChild.open(path, opts.readOnly ?? false);
  try {
    const instance = await openOnChild(file, opts.backing ?? null, opts.readOnly ?? false);
    return {
      instance,
      file,
      async close() {
        await instance.close();
        await file.close();
      },
    };
  } catch (err) {
    await file.close();
    throw err;
  }
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
