/**
 * A small `qemu-img check` that knows internal snapshots, for tests that run
 * without QEMU, written apart from the driver: recomputes every cluster's
 * references from the header, the snapshot table, the active L1 and every
 * snapshot's L1 (one reference per L1 table that reaches a cluster, as QEMU
 * counts them), compares them with the stored refcounts, and checks the
 * COPIED flags of the active tables. Also reads a snapshot's guest data.
 * No bitmaps, no compressed clusters, no backing file.
 */
const TWO32 = 2 ** 32;
const off64 = (b: Buffer, p: number): number =>
  (b.readUInt32BE(p) & 0x00ffffff) * TWO32 + ((b.readUInt32BE(p + 4) & 0xfffffe00) >>> 0);
const copiedBit = (b: Buffer, p: number): boolean => (b.readUInt32BE(p) & 0x80000000) !== 0;

export interface ParsedSnapshot {
  id: string;
  name: string;
  l1Offset: number;
  l1Size: number;
  diskSize: number;
  extraSize: number;
  icount: bigint | null;
}

export interface SnapshotCheck {
  corruptions: string[];
  leaks: string[];
  snapshots: ParsedSnapshot[];
}

interface Geometry {
  cs: number;
  version: number;
  bits: number;
  perBlock: number;
}

function geometry(img: Buffer): Geometry {
  const cs = 2 ** img.readUInt32BE(20);
  const version = img.readUInt32BE(4);
  const bits = 2 ** (version >= 3 ? img.readUInt32BE(96) : 4);
  return { cs, version, bits, perBlock: (cs * 8) / bits };
}

function slice(img: Buffer, off: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  if (off < img.length) img.copy(b, 0, off, Math.min(img.length, off + len));
  return b;
}

/** The snapshot table and the bytes it spans. */
export function parseSnapshots(img: Buffer): { list: ParsedSnapshot[]; offset: number; bytes: number } {
  const nb = img.readUInt32BE(60);
  const offset = Number(img.readBigUInt64BE(64));
  const list: ParsedSnapshot[] = [];
  let p = offset;
  for (let i = 0; i < nb; i++) {
    p = offset + Math.ceil((p - offset) / 8) * 8;
    const idLen = img.readUInt16BE(p + 12);
    const nameLen = img.readUInt16BE(p + 14);
    const extraSize = img.readUInt32BE(p + 36);
    const extra = slice(img, p + 40, extraSize);
    const idAt = p + 40 + extraSize;
    list.push({
      l1Offset: Number(img.readBigUInt64BE(p)),
      l1Size: img.readUInt32BE(p + 8),
      diskSize: extraSize >= 16 ? Number(extra.readBigUInt64BE(8)) : Number(img.readBigUInt64BE(24)),
      extraSize,
      icount: extraSize >= 24 ? extra.readBigUInt64BE(16) : null,
      id: img.toString('utf8', idAt, idAt + idLen),
      name: img.toString('utf8', idAt + idLen, idAt + idLen + nameLen),
    });
    p = idAt + idLen + nameLen;
  }
  return { list, offset, bytes: p - offset };
}

function refcountOf(img: Buffer, g: Geometry, c: number): number {
  const rtOff = Number(img.readBigUInt64BE(48));
  const rtEntries = (img.readUInt32BE(56) * g.cs) / 8;
  const index = Math.floor(c / g.perBlock);
  if (index >= rtEntries) return 0;
  const blk = off64(slice(img, rtOff + index * 8, 8), 0);
  if (blk === 0) return 0;
  const b = slice(img, blk, g.cs);
  const i = c % g.perBlock;
  if (g.bits >= 8) return b.readUIntBE(i * (g.bits / 8) + Math.max(0, g.bits / 8 - 6), Math.min(6, g.bits / 8));
  return (b[(i * g.bits) >> 3]! >> ((i * g.bits) & 7)) & (2 ** g.bits - 1);
}

export function snapshotCheck(img: Buffer): SnapshotCheck {
  const g = geometry(img);
  const cs = g.cs;
  const nClusters = Math.ceil(img.length / cs);
  const refs = new Map<number, number>();
  const corruptions: string[] = [];
  const leaks: string[] = [];
  const ref = (off: number, len: number): void => {
    if (len <= 0) return;
    for (let c = Math.floor(off / cs); c <= Math.floor((off + len - 1) / cs); c++) {
      if (c >= nClusters) corruptions.push(`reference to cluster ${c} past the end of the file`);
      refs.set(c, (refs.get(c) ?? 0) + 1);
    }
  };
  const rtOff = Number(img.readBigUInt64BE(48));
  const rtClusters = img.readUInt32BE(56);
  ref(0, cs);
  ref(rtOff, rtClusters * cs);
  const rt = slice(img, rtOff, rtClusters * cs);
  const blocks: number[] = [];
  for (let i = 0; i < (rtClusters * cs) / 8; i++) {
    const blk = off64(rt, i * 8);
    if (blk !== 0) {
      ref(blk, cs);
      blocks.push(blk / cs);
    }
  }
  const snaps = parseSnapshots(img);
  ref(snaps.offset, snaps.bytes);
  const zeroFlag = g.version >= 3;
  const walkL1 = (l1: Buffer, size: number, active: boolean): void => {
    for (let i = 0; i < size; i++) {
      const l2 = off64(l1, i * 8);
      if (l2 === 0) continue;
      ref(l2, cs);
      const t = slice(img, l2, cs);
      for (let j = 0; j < cs / 8; j++) {
        if ((t.readUInt32BE(j * 8) & 0x40000000) !== 0) throw new Error('compressed clusters are not supported here');
        const data = off64(t, j * 8);
        if (data !== 0) ref(data, cs);
        if (!active) continue;
        const allocated = data !== 0;
        const want = allocated && refcountOf(img, g, data / cs) === 1;
        if (copiedBit(t, j * 8) !== want) {
          corruptions.push(`OFLAG_COPIED data cluster: l2 ${l2} index ${j} refcount=${allocated ? refcountOf(img, g, data / cs) : 0}`);
        }
        if (!zeroFlag && (t.readUInt32BE(j * 8 + 4) & 1) !== 0) corruptions.push(`v2 entry with bit 0 set at l2 ${l2}`);
      }
      if (active && copiedBit(l1, i * 8) !== (refcountOf(img, g, l2 / cs) === 1)) {
        corruptions.push(`OFLAG_COPIED L2 cluster: l1_index=${i} refcount=${refcountOf(img, g, l2 / cs)}`);
      }
    }
  };
  const l1Size = img.readUInt32BE(36);
  const l1Off = Number(img.readBigUInt64BE(40));
  ref(l1Off, l1Size * 8);
  walkL1(slice(img, l1Off, l1Size * 8), l1Size, true);
  for (const s of snaps.list) {
    ref(s.l1Offset, s.l1Size * 8);
    walkL1(slice(img, s.l1Offset, s.l1Size * 8), s.l1Size, false);
  }
  for (let c = 0; c < nClusters; c++) {
    const want = refs.get(c) ?? 0;
    const have = refcountOf(img, g, c);
    if (have < want) corruptions.push(`cluster ${c} refcount=${have} reference=${want}`);
    else if (have > want) leaks.push(`cluster ${c} refcount=${have} reference=${want}`);
  }
  for (const b of blocks) if (refcountOf(img, g, b) !== 1) corruptions.push(`refcount block ${b} refcount=${refcountOf(img, g, b)}`);
  return { corruptions, leaks, snapshots: snaps.list };
}

/** Guest bytes [0, size) as the L1 table at `l1Offset` maps them (no backing file: unallocated reads zeroes). */
export function readThroughL1(img: Buffer, l1Offset: number, l1Size: number, size: number): Buffer {
  const { cs, version } = geometry(img);
  const per = cs / 8;
  const out = Buffer.alloc(size);
  const l1 = slice(img, l1Offset, l1Size * 8);
  for (let c = 0; c * cs < size; c++) {
    const i = Math.floor(c / per);
    if (i >= l1Size) break;
    const l2 = off64(l1, i * 8);
    if (l2 === 0) continue;
    const pos = (c % per) * 8;
    const entry = slice(img, l2 + pos, 8);
    const data = off64(entry, 0);
    const zero = version >= 3 && (entry.readUInt32BE(4) & 1) !== 0;
    if (zero || data === 0) continue;
    slice(img, data, cs).copy(out, c * cs, 0, Math.min(cs, size - c * cs));
  }
  return out;
}

/** A snapshot's guest data, at the size it was taken with. */
export function readSnapshot(img: Buffer, name: string): Buffer {
  const s = parseSnapshots(img).list.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no snapshot ${name}`);
  return readThroughL1(img, s.l1Offset, s.l1Size, s.diskSize);
}
