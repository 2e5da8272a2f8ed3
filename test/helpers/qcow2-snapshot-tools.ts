/** QEMU-side views of qcow2 images with internal snapshots, for interop tests. */
import { copyFileSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { mustRun, qemuImgCheck } from './qcow2-tools.js';

/** `qemu-img snapshot -l` as [id, tag] pairs. */
export function listed(path: string): [string, string][] {
  return mustRun('qemu-img', ['snapshot', '-l', path])
    .split('\n')
    .slice(2)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, tag] = l.trim().split(/\s+/);
      return [id!, tag!];
    });
}

/** Guest content of `path` after `qemu-img snapshot -a name` on a copy. */
export function contentAt(path: string, name: string, scratch: string): Buffer {
  copyFileSync(path, scratch);
  mustRun('qemu-img', ['snapshot', '-a', name, scratch]);
  expect(qemuImgCheck(scratch).status).toBe(0);
  mustRun('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', scratch, `${scratch}.raw`]);
  return readFileSync(`${scratch}.raw`);
}

/**
 * The file with what may differ between two writers blanked: snapshot time
 * stamps and icount, and clusters whose refcount is 0 (freed content stays).
 * 16-bit refcounts only.
 */
export function structure(path: string): Buffer {
  const f = Buffer.from(readFileSync(path));
  const cs = 2 ** f.readUInt32BE(20);
  const nb = f.readUInt32BE(60);
  const tableAt = Number(f.readBigUInt64BE(64));
  let p = tableAt;
  for (let i = 0; i < nb; i++) {
    p = tableAt + Math.ceil((p - tableAt) / 8) * 8;
    const extra = f.readUInt32BE(p + 36);
    f.fill(0, p + 16, p + 32);
    if (extra >= 24) f.fill(0, p + 56, p + 64);
    p += 40 + extra + f.readUInt16BE(p + 12) + f.readUInt16BE(p + 14);
  }
  const rt = Number(f.readBigUInt64BE(48));
  const per = cs / 2;
  for (let c = 0; c * cs < f.length; c++) {
    const blk = Number(f.readBigUInt64BE(rt + Math.floor(c / per) * 8));
    if (blk === 0 || f.readUInt16BE(blk + (c % per) * 2) === 0) f.fill(0, c * cs, Math.min(f.length, (c + 1) * cs));
  }
  let end = f.length;
  while (end > 0 && f[end - 1] === 0) end--;
  return f.subarray(0, end);
}
