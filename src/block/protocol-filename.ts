/**
 * How QEMU 7.2 reads a filename given as a plain string, such as
 * blockdev-snapshot-sync's snapshot-file (bdrv_find_protocol): text before a
 * ':' that comes before any '/' or '\' names a protocol driver, and an unknown
 * one is an error. The file driver strips its own 'file:' prefix
 * (raw_parse_filename), so 'file:x.qcow2' is the file x.qcow2. Options given
 * as a dict (blockdev-add) are never read this way.
 */
import { QmpError } from '../qmp/error.js';

/**
 * The protocol prefixes of QEMU 7.2's build: the driver each selects and
 * whether it can create images ('file'), has no image creation at all
 * ('none', bdrv_img_create refuses it), or creates by other means that
 * qmpd has no driver for ('other').
 */
const PROTOCOLS: Record<string, { driver: string; create: 'file' | 'none' | 'other' }> = {
  file: { driver: 'file', create: 'file' },
  'null-co': { driver: 'null-co', create: 'none' },
  'null-aio': { driver: 'null-aio', create: 'none' },
  fat: { driver: 'vvfat', create: 'none' },
  blkdebug: { driver: 'blkdebug', create: 'none' },
  blkverify: { driver: 'blkverify', create: 'none' },
  http: { driver: 'http', create: 'none' },
  https: { driver: 'https', create: 'none' },
  ftp: { driver: 'ftp', create: 'none' },
  ftps: { driver: 'ftps', create: 'none' },
  nbd: { driver: 'nbd', create: 'other' },
  'nbd+tcp': { driver: 'nbd', create: 'other' },
  'nbd+unix': { driver: 'nbd', create: 'other' },
  host_device: { driver: 'host_device', create: 'other' },
  host_cdrom: { driver: 'host_cdrom', create: 'other' },
  ssh: { driver: 'ssh', create: 'other' },
  gluster: { driver: 'gluster', create: 'other' },
  'gluster+tcp': { driver: 'gluster', create: 'other' },
  'gluster+unix': { driver: 'gluster', create: 'other' },
  'gluster+rdma': { driver: 'gluster', create: 'other' },
  iscsi: { driver: 'iscsi', create: 'other' },
  iser: { driver: 'iser', create: 'other' },
  nfs: { driver: 'nfs', create: 'other' },
  nvme: { driver: 'nvme', create: 'other' },
  rbd: { driver: 'rbd', create: 'other' },
};

export interface ProtocolFilename {
  /** the protocol driver the name selects */
  driver: string;
  create: 'file' | 'none' | 'other';
  /** for the file driver, the path without its 'file:' prefix; otherwise the name as given */
  filename: string;
}

/** Throws QEMU's "Unknown protocol 'x'" for a prefix no driver claims. */
export function parseProtocolFilename(name: string): ProtocolFilename {
  const end = name.search(/[:/\\]/);
  if (end < 0 || name[end] !== ':') return { driver: 'file', create: 'file', filename: name };
  const prefix = name.slice(0, end);
  const protocol = Object.hasOwn(PROTOCOLS, prefix) ? PROTOCOLS[prefix] : undefined;
  if (!protocol) throw QmpError.generic(`Unknown protocol '${prefix}'`);
  return { ...protocol, filename: protocol.driver === 'file' ? name.slice(end + 1) : name };
}

/** qmpd's refusal of a protocol it has no driver for. */
export function unsupportedProtocol(p: ProtocolFilename): QmpError {
  return QmpError.generic(`Protocol driver '${p.driver}' is not supported by qmpd`);
}
