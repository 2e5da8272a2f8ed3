/**
 * Broken and unsupported qcow2 images, crafted from a fresh 64 MiB image
 * (64 KiB clusters: header in cluster 0, refcount table at 0x10000, refcount
 * block at 0x20000, one L1 entry at 0x30000, file ends at 0x30008).
 */
export interface CraftedImage {
  name: string;
  /** returns the crafted file contents (may be longer or shorter than the input) */
  craft(fresh: Buffer): Buffer;
  /** the error a read-write open must give */
  message: string;
  /** QEMU 7.2 (qemu-io, read-write open) gives exactly this message too */
  qemuSame: boolean;
  /** a read-only open succeeds */
  readOnlyOpens?: boolean;
}

function patch(fresh: Buffer, ...edits: [number, (b: Buffer, off: number) => void][]): Buffer {
  const b = Buffer.from(fresh);
  for (const [off, fn] of edits) fn(b, off);
  return b;
}
const u32 = (v: number) => (b: Buffer, off: number) => b.writeUInt32BE(v, off);
const u64 = (v: bigint) => (b: Buffer, off: number) => b.writeBigUInt64BE(v, off);
const withL2 = (fresh: Buffer, l1Entry: bigint): Buffer => {
  const b = Buffer.concat([fresh, Buffer.alloc(0x40000 - fresh.length + 0x10000)]);
  b.writeBigUInt64BE(l1Entry, 0x30000);
  return b;
};

export const CRAFTED: CraftedImage[] = [
  { name: 'an empty file', craft: () => Buffer.alloc(0), message: 'Image is not in qcow2 format', qemuSame: true },
  { name: 'a 3-byte file', craft: (f) => f.subarray(0, 3), message: 'Image is not in qcow2 format', qemuSame: true },
  { name: 'a header cut after 50 bytes', craft: (f) => f.subarray(0, 50), message: 'qcow2 header too short', qemuSame: true },
  { name: 'a garbage header', craft: (f) => patch(f, [0, (b) => b.fill(0x5a, 0, 104)]), message: 'Image is not in qcow2 format', qemuSame: true },
  { name: 'version 4', craft: (f) => patch(f, [4, u32(4)]), message: 'Unsupported qcow2 version 4', qemuSame: true },
  { name: 'version 1', craft: (f) => patch(f, [4, u32(1)]), message: 'Unsupported qcow2 version 1', qemuSame: true },
  { name: 'cluster_bits 8', craft: (f) => patch(f, [20, u32(8)]), message: 'Unsupported cluster size: 2^8', qemuSame: true },
  { name: 'cluster_bits 22', craft: (f) => patch(f, [20, u32(22)]), message: 'Unsupported cluster size: 2^22', qemuSame: true },
  { name: 'header_length 100', craft: (f) => patch(f, [100, u32(100)]), message: 'qcow2 header too short', qemuSame: true },
  { name: 'header_length beyond the cluster', craft: (f) => patch(f, [100, u32(0x20000)]), message: 'qcow2 header exceeds cluster size', qemuSame: true },
  { name: 'a backing name offset past cluster 0', craft: (f) => patch(f, [8, u64(0x20000n)], [16, u32(4)]), message: 'Invalid backing file offset', qemuSame: true },
  { name: 'a 2000-byte backing name', craft: (f) => patch(f, [8, u64(0x210n)], [16, u32(2000)]), message: 'Backing file name too long', qemuSame: true },
  { name: 'a header extension longer than the cluster', craft: (f) => patch(f, [0x74, u32(0x100000)]), message: 'Header extension too large', qemuSame: true },
  {
    name: 'a 20-byte backing format',
    craft: (f) => patch(f, [0x70, u32(0xe2792aca)], [0x74, u32(20)], [0x78, (b, o) => b.fill(0x61, o, o + 20)]),
    message: 'ERROR: ext_backing_format: len=20 too large (>=16)',
    qemuSame: true,
  },
  {
    name: 'an unknown incompatible feature bit',
    craft: (f) => patch(f, [72, u64(0x20n)]),
    message: 'Unsupported qcow2 feature(s): Unknown incompatible feature: 20',
    qemuSame: true,
  },
  {
    name: 'an unknown incompatible feature named in the feature table',
    // entry 7 of the feature table (0x1c8) becomes incompatible bit 5, "frobnication"
    craft: (f) => patch(f, [72, u64(0x60n)], [0x1c8, (b, o) => { b.fill(0, o, o + 48); b[o + 1] = 5; b.write('frobnication', o + 2); }]),
    message: 'Unsupported qcow2 feature(s): frobnication, Unknown incompatible feature: 40',
    qemuSame: true,
  },
  { name: 'the corrupt bit', craft: (f) => patch(f, [72, u64(0x2n)]), message: 'qcow2: Image is corrupt; cannot be opened read/write', qemuSame: true, readOnlyOpens: true },
  { name: 'refcount_order 7', craft: (f) => patch(f, [96, u32(7)]), message: 'Reference count entry width too large; may not exceed 64 bits', qemuSame: true },
  { name: 'a compression type without its feature bit', craft: (f) => patch(f, [104, (b, o) => (b[o] = 1)]), message: 'qcow2: Compression type incompatible feature bit must be set', qemuSame: true },
  { name: 'the compression feature bit without a type', craft: (f) => patch(f, [72, u64(0x8n)]), message: 'qcow2: Compression type incompatible feature bit must not be set', qemuSame: true },
  { name: 'compression type 2', craft: (f) => patch(f, [72, u64(0x8n)], [104, (b, o) => (b[o] = 2)]), message: 'qcow2: unknown compression type: 2', qemuSame: true },
  { name: 'encryption method 3', craft: (f) => patch(f, [32, u32(3)]), message: 'Unsupported encryption method 3', qemuSame: true },
  { name: 'no refcount table', craft: (f) => patch(f, [56, u32(0)]), message: 'Image does not contain a reference count table', qemuSame: true },
  { name: 'a huge refcount table', craft: (f) => patch(f, [56, u32(0x10000000)]), message: 'Reference count table too large', qemuSame: true },
  { name: 'an unaligned refcount table', craft: (f) => patch(f, [48, u64(0x10200n)]), message: 'Reference count table offset invalid', qemuSame: true },
  { name: 'an unaligned snapshot table', craft: (f) => patch(f, [60, u32(1)], [64, u64(0x123n)]), message: 'Snapshot table offset invalid', qemuSame: true },
  { name: 'a huge L1 table', craft: (f) => patch(f, [36, u32(0x1000000)]), message: 'Active L1 table too large', qemuSame: true },
  { name: 'an L1 table too small for the size', craft: (f) => patch(f, [36, u32(0)]), message: 'L1 table is too small', qemuSame: true },
  { name: 'an unaligned L1 table', craft: (f) => patch(f, [40, u64(0x30200n)]), message: 'Active L1 table offset invalid', qemuSame: true },
  { name: 'a virtual size of 2^62', craft: (f) => patch(f, [24, u64(1n << 62n)]), message: 'Image is too big', qemuSame: true },
  // QEMU opens these (and fails or corrupts later); qmpd refuses up front.
  { name: 'an L1 table past the end of the file', craft: (f) => patch(f, [40, u64(0x1000000n)]), message: 'qcow2: Image is corrupt: the active L1 table lies past the end of the file', qemuSame: false },
  { name: 'an L1 table on the header', craft: (f) => patch(f, [40, u64(0n)]), message: 'qcow2: Image is corrupt: the active L1 table overlaps the qcow2 header', qemuSame: false },
  { name: 'an L1 table on the refcount table', craft: (f) => patch(f, [40, u64(0x10000n)]), message: 'qcow2: Image is corrupt: the active L1 table overlaps the refcount table', qemuSame: false },
  { name: 'a refcount table on the header', craft: (f) => patch(f, [48, u64(0n)]), message: 'qcow2: Image is corrupt: the refcount table overlaps the qcow2 header', qemuSame: false },
  { name: 'a refcount table on the L1 table', craft: (f) => patch(f, [48, u64(0x30000n)]), message: 'qcow2: Image is corrupt: the active L1 table overlaps the refcount table', qemuSame: false },
  { name: 'a refcount table past the end of the file', craft: (f) => patch(f, [48, u64(0x1000000n)]), message: 'qcow2: Image is corrupt: the refcount table lies past the end of the file', qemuSame: false },
  {
    name: 'reserved bits in an L1 entry',
    craft: (f) => withL2(f, 0x8000000000040002n),
    message: 'qcow2: Image is corrupt: Reserved bits set in L1 entry 0: 0x8000000000040002',
    qemuSame: false,
  },
  {
    name: 'an unaligned L2 table offset',
    craft: (f) => withL2(f, 0x8000000000040200n),
    message: 'qcow2: Image is corrupt: L2 table offset 0x40200 unaligned (L1 index: 0)',
    qemuSame: false,
  },
  {
    name: 'an L2 table past the end of the file',
    craft: (f) => patch(f, [0x30000, u64(0x8000000000500000n)]),
    message: 'qcow2: Image is corrupt: L2 table offset 0x500000 of L1 entry 0 is past the end of the file',
    qemuSame: false,
  },
  {
    name: 'a refcount block past the end of the file',
    craft: (f) => patch(f, [0x10000, u64(0x500000n)]),
    message: 'qcow2: Image is corrupt: Refblock offset 0x500000 is past the end of the file (reftable index: 0)',
    qemuSame: false,
  },
  { name: 'encryption method 1 (AES)', craft: (f) => patch(f, [32, u32(1)]), message: 'qcow2: encrypted images are not supported', qemuSame: false },
  { name: 'an external data file', craft: (f) => patch(f, [72, u64(0x4n)]), message: 'qcow2: images with an external data file are not supported', qemuSame: false },
  {
    name: 'extended L2 entries with 8 KiB clusters (256-byte subclusters)',
    craft: (f) => patch(f, [72, u64(0x10n)], [20, u32(13)]),
    message: 'Unsupported subcluster size: 256',
    qemuSame: true,
  },
  {
    name: 'the dirty bit',
    craft: (f) => patch(f, [72, u64(0x1n)]),
    message: "qcow2: Image has the dirty bit set (lazy refcounts were in use); repair it with 'qemu-img check -r all' before opening it read/write",
    qemuSame: false,
    readOnlyOpens: true,
  },
];
