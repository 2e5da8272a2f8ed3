/**
 * A small `qemu-img check` for tests that run without QEMU: recomputes every
 * cluster's references from the header, the active L1/L2 tables and the
 * refcount structures, and compares them with the stored refcounts and the
 * COPIED flags. Images with snapshots or bitmaps are not supported.
 */
export interface MiniCheck {
  corruptions: string[];
  leaks: string[];
}

const TWO32 = 2 ** 32;
const off64 = (b: Buffer, p: number): number => (b.readUInt32BE(p) & 0x00ffffff) * TWO32 + ((b.readUInt32BE(p + 4) & 0xfffffe00) >>> 0);

export function miniCheck(img: Buffer): MiniCheck {
  const clusterBits = img.readUInt32BE(20);
  const cs = 2 ** clusterBits;
  const version = img.readUInt32BE(4);
  const order = version >= 3 ? img.readUInt32BE(96) : 4;
  const bits = 2 ** order;
  const perBlock = (cs * 8) / bits;
  const l1Size = img.readUInt32BE(36);
  const l1Off = Number(img.readBigUInt64BE(40));
  const rtOff = Number(img.readBigUInt64BE(48));
  const rtClusters = img.readUInt32BE(56);
  const nClusters = Math.ceil(img.length / cs);
  const refs = new Map<number, number>();
  const corruptions: string[] = [];
  const leaks: string[] = [];
  const read = (off: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    if (off < img.length) img.copy(b, 0, off, Math.min(img.length, off + len));
    return b;
  };
  const ref = (off: number, len: number): void => {
    for (let c = Math.floor(off / cs); c <= Math.floor((off + len - 1) / cs); c++) {
      if (c >= nClusters) corruptions.push(`reference to cluster ${c} past the end of the file`);
      refs.set(c, (refs.get(c) ?? 0) + 1);
    }
  };
  const refcount = (c: number): number => {
    const blk = off64(read(rtOff + Math.floor(c / perBlock) * 8, 8), 0);
    if (blk === 0) return 0;
    const i = c % perBlock;
    const b = read(blk, cs);
    if (bits >= 8) return b.readUIntBE(i * (bits / 8) + Math.max(0, bits / 8 - 6), Math.min(6, bits / 8));
    return (b[(i * bits) >> 3]! >> ((i * bits) & 7)) & (2 ** bits - 1);
  };

  ref(0, cs);
  ref(rtOff, rtClusters * cs);
  if (l1Size > 0) ref(l1Off, l1Size * 8);
  const rt = read(rtOff, rtClusters * cs);
  for (let i = 0; i < rtClusters * (cs / 8); i++) {
    const blk = off64(rt, i * 8);
    if (blk !== 0) ref(blk, cs);
  }
  const copiedChecks: [number, boolean, string][] = [];
  const l1 = read(l1Off, l1Size * 8);
  for (let i = 0; i < l1Size; i++) {
    const l2Off = off64(l1, i * 8);
    if (l2Off === 0) continue;
    ref(l2Off, cs);
    copiedChecks.push([l2Off / cs, (l1.readUInt32BE(i * 8) & 0x80000000) !== 0, `L1 entry ${i}`]);
    const l2 = read(l2Off, cs);
    for (let j = 0; j < cs / 8; j++) {
      const hi = l2.readUInt32BE(j * 8);
      if (hi & 0x40000000) {
        const x = 62 - (clusterBits - 8);
        const d = l2.readBigUInt64BE(j * 8) & ((1n << 62n) - 1n);
        const o = Number(d & ((1n << BigInt(x)) - 1n));
        const sectors = Number(d >> BigInt(x)) + 1;
        ref(o, sectors * 512 - (o % 512));
        continue;
      }
      const data = off64(l2, j * 8);
      if (data === 0) continue;
      ref(data, cs);
      copiedChecks.push([data / cs, (hi & 0x80000000) !== 0, `L2 entry ${j} of table at ${l2Off}`]);
    }
  }
  for (let c = 0; c < nClusters; c++) {
    const stored = refcount(c);
    const want = refs.get(c) ?? 0;
    if (stored < want) corruptions.push(`cluster ${c} refcount=${stored} reference=${want}`);
    else if (stored > want) leaks.push(`cluster ${c} refcount=${stored} reference=${want}`);
  }
  for (const [c, copied, where] of copiedChecks) {
    if (copied !== (refcount(c) === 1)) corruptions.push(`COPIED flag of ${where} wrong for cluster ${c}`);
  }
  return { corruptions, leaks };
}
