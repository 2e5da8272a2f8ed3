/**
 * Image formats of QEMU 7.2 that qmpd does not implement. QEMU's open of
 * such a node reads its file first, so a file that is not in that format
 * gets the format driver's own error (a qcow2 image opened as vmdk says
 * "invalid VMDK image descriptor"); only a file that is in it meets qmpd's
 * "not supported".
 */
import { QmpError } from '../../qmp/error.js';
import type { BlockNode } from '../node.js';

/** Bytes read from the start (and, for vpc, the end) of the file. */
const PROBE_BYTES = 512;

interface ForeignFormat {
  /** the file holds an image of this format */
  matches(head: Buffer, tail: Buffer): boolean;
  /** the driver's error for a file that is not one */
  notThisFormat: string;
}

const startsWith = (buf: Buffer, magic: string): boolean => buf.toString('latin1', 0, magic.length) === magic;

const FOREIGN_FORMATS: ReadonlyMap<string, ForeignFormat> = new Map([
  ['qed', { matches: (h: Buffer) => startsWith(h, 'QED\0'), notThisFormat: 'Image not in QED format' }],
  [
    'vmdk',
    {
      // binary extents by magic; otherwise QEMU reads the file as a text descriptor
      matches: (h: Buffer) => startsWith(h, 'KDMV') || startsWith(h, 'COWD') || h.toString('latin1').includes('createType'),
      notThisFormat: 'invalid VMDK image descriptor',
    },
  ],
  [
    'vpc',
    {
      // the footer copy at the start, else the footer itself at the end
      matches: (h: Buffer, t: Buffer) => startsWith(h, 'conectix') || startsWith(t, 'conectix'),
      notThisFormat: 'invalid VPC image',
    },
  ],
  [
    'parallels',
    {
      matches: (h: Buffer) => startsWith(h, 'WithoutFreeSpace') || startsWith(h, 'WithouFreSpacExt'),
      notThisFormat: 'Image not in Parallels format',
    },
  ],
]);

export function isForeignFormat(driver: string): boolean {
  return FOREIGN_FORMATS.has(driver);
}

/** Reads the file as the format's open would, and refuses it with the right text. */
export async function refuseForeignImage(driver: string, file: BlockNode): Promise<never> {
  const format = FOREIGN_FORMATS.get(driver)!;
  const length = file.length();
  const head = Buffer.alloc(PROBE_BYTES);
  const tail = Buffer.alloc(PROBE_BYTES);
  if (length > 0) await file.read(0, head.subarray(0, Math.min(length, PROBE_BYTES)));
  if (length >= PROBE_BYTES) await file.read(length - PROBE_BYTES, tail);
  if (!format.matches(head, tail)) throw QmpError.generic(format.notThisFormat);
  throw QmpError.generic(`Driver '${driver}' is not supported by qmpd`);
}
