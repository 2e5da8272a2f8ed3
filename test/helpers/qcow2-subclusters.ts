/**
 * Side-by-side helpers for images with extended L2 entries: the same
 * operations applied by qemu-io and by qmpd's driver, and a dump of the
 * active L2 entries (descriptor and subcluster bitmap) to compare them by.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { InstanceChild } from './file-child.js';
import { openQcow2, type OpenedQcow2 } from './qcow2.js';
import { mustRun, qemuIo } from './qcow2-tools.js';

export type SubOp =
  | { kind: 'write'; off: number; len: number; pattern: number }
  | { kind: 'zero'; off: number; len: number; unmap: boolean }
  | { kind: 'discard'; off: number; len: number };

export function qemuIoCommand(op: SubOp): string {
  switch (op.kind) {
    case 'write':
      return `write -q -P ${op.pattern} ${op.off} ${op.len}`;
    case 'zero':
      return `write -q -z ${op.unmap ? '-u ' : ''}${op.off} ${op.len}`;
    case 'discard':
      return `discard -q ${op.off} ${op.len}`;
  }
}

/** Applies ops with qemu-io (the image's backing file, if any, is opened by qemu-io itself). */
export function applyWithQemu(path: string, ops: SubOp[]): void {
  // qemu-io takes a bounded command line: a few hundred commands at a time
  for (let i = 0; i < ops.length; i += 200) qemuIo(path, ops.slice(i, i + 200).map(qemuIoCommand));
}

/** Opens `path` (and `backing`, a qcow2 file, read-only below it) with qmpd's driver. */
export async function openChain(path: string, backing?: string): Promise<{ top: OpenedQcow2; close(): Promise<void> }> {
  const base = backing === undefined ? null : await openQcow2(backing, { readOnly: true });
  const top = await openQcow2(path, { backing: base === null ? null : new InstanceChild('base', base.instance) });
  return {
    top,
    async close() {
      await top.close();
      await base?.close();
    },
  };
}

export async function applyWithQmpd(path: string, ops: SubOp[], backing?: string): Promise<void> {
  const chain = await openChain(path, backing);
  const inst = chain.top.instance;
  try {
    for (const op of ops) {
      if (op.kind === 'write') await inst.write!(op.off, Buffer.alloc(op.len, op.pattern), {});
      else if (op.kind === 'zero') await inst.writeZeroes!(op.off, op.len, { mayUnmap: op.unmap });
      else await inst.discard!(op.off, op.len);
    }
  } finally {
    await chain.close();
  }
}

/**
 * The active L2 entries of an image with 16-byte entries, straight from the
 * file: guest cluster -> "descriptor/zero bits/alloc bits" in hex, for
 * entries that are not all zero. Without `hosts`, the descriptor shows only
 * its COPIED and compressed bits and whether it has a host cluster.
 */
export function dumpExtendedL2(path: string, hosts = true): Record<number, string> {
  const f = readFileSync(path);
  const cs = 2 ** f.readUInt32BE(20);
  const l1Size = f.readUInt32BE(36);
  const l1Off = Number(f.readBigUInt64BE(40));
  const per = cs / 16;
  const out: Record<number, string> = {};
  for (let i = 0; i < l1Size; i++) {
    const l2 = Number(f.readBigUInt64BE(l1Off + i * 8) & 0x00fffffffffffe00n);
    if (l2 === 0) continue;
    for (let j = 0; j < per; j++) {
      const p = l2 + j * 16;
      const desc = f.readBigUInt64BE(p);
      const zero = f.readUInt32BE(p + 8);
      const alloc = f.readUInt32BE(p + 12);
      if (desc === 0n && zero === 0 && alloc === 0) continue;
      // without hosts: only the COPIED and compressed flags and whether there is a host cluster
      const d = hosts ? desc.toString(16) : `${desc >> 62n}${(desc & 0x00fffffffffffe00n) !== 0n ? 'H' : '-'}`;
      out[i * per + j] = `${d}/${zero.toString(16)}/${alloc.toString(16)}`;
    }
  }
  return out;
}

/** Two copies of `src`, one to be changed by qemu-io and one by qmpd. */
export function twins(src: string, qemuPath: string, qmpdPath: string): void {
  copyFileSync(src, qemuPath);
  copyFileSync(src, qmpdPath);
}

type MapEntry = { start: number; length: number; offset?: number } & Record<string, unknown>;

/**
 * `qemu-img map` without host offsets, runs that now look alike merged: where
 * clusters were freed, qmpd reuses them only after its next metadata flush,
 * so hosts (and which runs are contiguous on the host) may differ from QEMU's.
 */
export function mapWithoutHosts(path: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const { offset: _o, ...e } of JSON.parse(mustRun('qemu-img', ['map', '--output=json', path])) as MapEntry[]) {
    const last = out[out.length - 1];
    const key = (x: MapEntry): string => JSON.stringify({ ...x, start: 0, length: 0 });
    if (last !== undefined && key(last) === key(e)) last.length += e.length;
    else out.push(e);
  }
  return out;
}
