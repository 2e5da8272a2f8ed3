/**
 * Error texts of the qcow2 driver. Where QEMU 7.2 refuses the same input, the
 * text is QEMU's (checked with qemu-io -f qcow2 on crafted files); where QEMU
 * accepts something qmpd does not support, the text says so plainly.
 */
import { QmpError } from '../../../qmp/error.js';

const g = (desc: string): QmpError => QmpError.generic(desc);
/** printf's %#x, as QEMU formats offsets and indexes (zero prints without the 0x). */
export const hex = (n: number | bigint): string => (n === 0 || n === 0n ? '0' : '0x' + n.toString(16));

export const qcow2Errors = {
  // QEMU's own texts.
  notQcow2: () => g('Image is not in qcow2 format'),
  version: (v: number) => g(`Unsupported qcow2 version ${v}`),
  clusterSize: (bits: number) => g(`Unsupported cluster size: 2^${bits}`),
  headerTooShort: () => g('qcow2 header too short'),
  headerExceedsCluster: () => g('qcow2 header exceeds cluster size'),
  backingOffset: () => g('Invalid backing file offset'),
  backingNameTooLong: () => g('Backing file name too long'),
  unsupportedFeatures: (names: string) => g(`Unsupported qcow2 feature(s): ${names}`),
  corruptReadWrite: () => g('qcow2: Image is corrupt; cannot be opened read/write'),
  refcountOrder: () => g('Reference count entry width too large; may not exceed 64 bits'),
  compressionBitMustBeSet: () => g('qcow2: Compression type incompatible feature bit must be set'),
  compressionBitMustNotBeSet: () => g('qcow2: Compression type incompatible feature bit must not be set'),
  compressionType: (t: number) => g(`qcow2: unknown compression type: ${t}`),
  encryptionMethod: (m: number) => g(`Unsupported encryption method ${m}`),
  noRefcountTable: () => g('Image does not contain a reference count table'),
  refcountTableTooLarge: () => g('Reference count table too large'),
  refcountTableOffset: () => g('Reference count table offset invalid'),
  l1TooLarge: () => g('Active L1 table too large'),
  l1Offset: () => g('Active L1 table offset invalid'),
  l1TooSmall: () => g('L1 table is too small'),
  imageTooBig: () => g('Image is too big'),
  snapshotOffset: () => g('Snapshot table offset invalid'),
  snapshotExtraData: (i: number) => g(`Too much extra metadata in snapshot table entry ${i}`),
  snapshotTableTooBig: () => g('Snapshot table is too big'),
  snapshotL1TooLarge: () => g('Snapshot L1 table too large'),
  snapshotL1Offset: () => g('Snapshot L1 table offset invalid'),
  snapshotNotFound: () => g("Can't find the snapshot"),
  resizeV2WithSnapshots: () => g("Can't resize a v2 image which has snapshots"),
  /** EFBIG: too many snapshots, or a snapshot table past QEMU's size limit */
  fileTooLarge: () => QmpError.io('EFBIG', 'File too large'),
  extensionTooLarge: () => g('Header extension too large'),
  backingFormatTooLong: (len: number) =>
    g(`ERROR: ext_backing_format: len=${len} too large (>=16)`),
  l2Unaligned: (off: number, l1Index: number) =>
    g(`qcow2: Image is corrupt: L2 table offset ${hex(off)} unaligned (L1 index: ${hex(l1Index)})`),
  dataUnaligned: (off: number, l2Off: number, l2Index: number) =>
    g(
      `qcow2: Image is corrupt: Cluster allocation offset ${hex(off)} unaligned ` +
        `(L2 offset: ${hex(l2Off)}, L2 index: ${hex(l2Index)})`,
    ),
  subclusterSize: (bytes: number) => g(`Unsupported subcluster size: ${bytes}`),
  /** QEMU's text for a bitmap it refuses; reads word it with two spaces, writes with one */
  invalidEntry: (l2Off: number, l2Index: number, read: boolean) =>
    g(
      `qcow2: Image is corrupt: Invalid cluster entry found ${read ? ' ' : ''}` +
        `(L2 offset: ${hex(l2Off)}, L2 index: ${hex(l2Index)})`,
    ),
  // qmpd's refusals of valid images it does not handle.
  encrypted: () => g('qcow2: encrypted images are not supported'),
  dataFile: () => g('qcow2: images with an external data file are not supported'),
  dirtyReadWrite: () =>
    g(
      'qcow2: Image has the dirty bit set (lazy refcounts were in use); ' +
        "repair it with 'qemu-img check -r all' before opening it read/write",
    ),
  decompress: (guest: number) => g(`qcow2: Could not decompress cluster at guest offset ${hex(guest)}`),
  refcountOverflow: (cluster: number) => g(`qcow2: refcount of cluster ${cluster} would overflow`),
  corrupt: (what: string) => g(`qcow2: Image is corrupt: ${what}`),
  bitmapsNeedV3: () => g('qcow2: persistent bitmaps need a v3 image (compat=1.1)'),
  readOnly: () => g('Block node is read-only'),
  noSpaceInHeader: () => QmpError.generic('No space left on device'),
  /** ENOTSUP: a zero write that could only be done by writing zero buffers, with noFallback */
  zeroNeedsFallback: () => QmpError.generic('Operation not supported', { cause: 'ENOTSUP' }),
  invalidArgument: () => QmpError.generic('Invalid argument'),
} as const;
