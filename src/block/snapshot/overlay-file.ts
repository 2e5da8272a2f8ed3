/**
 * Creating the image file of a new overlay (blockdev-snapshot-sync with mode
 * absolute-paths) with QEMU's errors, and two guarantees QEMU does not give:
 * an image that a node has open is never overwritten, and an existing file
 * is not modified unless the transaction commits (the new image is written
 * under a temporary name in the same directory and renamed over it at
 * commit); a file the transaction created is removed again on abort.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QmpError } from '../../qmp/error.js';
import { describeErrno } from '../../util/errno.js';
import type { BlockGraph } from '../graph.js';
import { BlockNode } from '../node.js';
import { HostFileIo } from '../host-file-io.js';
import { parseProtocolFilename, unsupportedProtocol } from '../protocol-filename.js';
import { formatQcow2 } from '../drivers/qcow2/create.js';
import type { OpenedHostFile } from '../drivers/driver.js';

/**
 * The format drivers of QEMU 7.2's build and what bdrv_img_create() makes of
 * each as an overlay format: 'backing' (can record a backing file), 'plain'
 * (creates images, but without a backing file option) or 'none' (no image
 * creation at all, checked first). Anything else is an unknown format.
 */
type Creation = 'backing' | 'plain' | 'none';
const KNOWN_FORMATS: Record<string, Creation> = {
  qcow2: 'backing',
  qcow: 'backing',
  qed: 'backing',
  vmdk: 'backing',
  raw: 'plain',
  file: 'plain',
  host_device: 'plain',
  host_cdrom: 'plain',
  luks: 'plain',
  vdi: 'plain',
  vhdx: 'plain',
  vpc: 'plain',
  parallels: 'plain',
  nbd: 'plain',
  gluster: 'plain',
  iscsi: 'plain',
  iser: 'plain',
  nfs: 'plain',
  nvme: 'plain',
  rbd: 'plain',
  ssh: 'plain',
  blkdebug: 'none',
  blklogwrites: 'none',
  blkverify: 'none',
  bochs: 'none',
  cloop: 'none',
  compress: 'none',
  'copy-before-write': 'none',
  'copy-on-read': 'none',
  dmg: 'none',
  ftp: 'none',
  ftps: 'none',
  http: 'none',
  https: 'none',
  'null-aio': 'none',
  'null-co': 'none',
  preallocate: 'none',
  quorum: 'none',
  replication: 'none',
  'snapshot-access': 'none',
  throttle: 'none',
  vvfat: 'none',
};
/** Whether QEMU 7.2's build has a block driver of this name. */
export function isKnownFormat(name: string): boolean {
  return Object.hasOwn(KNOWN_FORMATS, name);
}

/** The ones qmpd can create. */
const CREATABLE = new Set(['qcow2']);

export interface OverlayFileRequest {
  /** snapshot-file as given (a 'file:' prefix included) */
  path: string;
  format: string;
  size: number;
  backingFile: string;
  backingFormat: string;
}

/** Bytes of a new image kept to answer the overlay's first reads (its header and tables). */
const HEAD_BYTES = 256 * 1024;

export class OverlayFile {
  private settled = false;
  /** The created file, still open, until a node takes it over. */
  private opened: OpenedHostFile | undefined;

  constructor(
    /** The name the user asked for, which the node reports. */
    readonly path: string,
    /** Where the image is until commit (== path when the file did not exist). */
    readonly hostPath: string,
  ) {}

  /** Hands the open file to the node that will own (and close) it. */
  takeOpened(): OpenedHostFile | undefined {
    const o = this.opened;
    this.opened = undefined;
    return o;
  }

  keepOpen(o: OpenedHostFile): void {
    this.opened = o;
  }

  private async closeUnused(): Promise<void> {
    await this.takeOpened()?.handle.close();
  }

  get replacesExisting(): boolean {
    return this.hostPath !== this.path;
  }

  /** The transaction committed: the new image takes its name. */
  async keep(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.closeUnused();
    if (this.replacesExisting) await rename(this.hostPath, this.path);
  }

  /** The transaction failed: leave the filesystem as it was. */
  async discard(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.closeUnused();
    try {
      await unlink(this.hostPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** bdrv_img_create()'s checks, in its order; returns the file's path (without a 'file:' prefix). */
export function checkOverlayFormat(format: string, backingFormat: string, snapshotFile: string): string {
  const creation = Object.hasOwn(KNOWN_FORMATS, format) ? KNOWN_FORMATS[format] : undefined;
  if (creation === undefined) throw QmpError.generic(`Unknown file format '${format}'`);
  const protocol = parseProtocolFilename(snapshotFile);
  if (creation === 'none') throw QmpError.generic(`Format driver '${format}' does not support image creation`);
  if (protocol.create === 'none') {
    throw QmpError.generic(`Protocol driver '${protocol.driver}' does not support image creation`);
  }
  if (creation === 'plain') throw QmpError.generic(`Backing file not supported for file format '${format}'`);
  // vmdk's create opens the backing image first and accepts only a vmdk one
  if (format === 'vmdk' && backingFormat !== 'vmdk') throw QmpError.generic('backing_file must be a vmdk image');
  if (!CREATABLE.has(format)) throw QmpError.generic(`Creating '${format}' images is not supported by qmpd`);
  if (protocol.create !== 'file') throw unsupportedProtocol(protocol);
  return protocol.filename;
}

/** Which open node, if any, has this file open (matched by device and inode). */
async function nodeUsingFile(graph: BlockGraph, identity: string): Promise<string | undefined> {
  for (const node of graph.allNodes()) {
    if (node.instance.fileIdentity?.() !== identity) continue;
    const user = node.parents.map((e) => e.parent).find((p) => p instanceof BlockNode);
    return user instanceof BlockNode ? user.nodeName : node.nodeName;
  }
  return undefined;
}

const eexist = () => Object.assign(new Error('EEXIST'), { code: 'EEXIST' });

/** A new file opened read-write, or undefined when the name is taken. */
async function createExclusive(path: string, couldNot: (err: unknown) => QmpError): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'wx+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw couldNot(err);
  }
}

export async function createOverlayFile(graph: BlockGraph, req: OverlayFileRequest): Promise<OverlayFile> {
  const path = checkOverlayFormat(req.format, req.backingFormat, req.path);
  // bdrv_img_create()'s own checks of the backing name (on the name as given, prefix included)
  if (req.path === req.backingFile) {
    throw QmpError.generic('Error: Trying to create an image with the same filename as the backing file');
  }
  if (req.backingFile === '') throw QmpError.generic('Expected backing file name, got empty string');
  const couldNot = (err: unknown) =>
    QmpError.generic(`Could not create '${path}': ${describeErrno(err)}`, { cause: err });
  // the usual case, a new name, costs one open; an existing file is checked, then replaced at commit
  let hostPath = path;
  let handle = await createExclusive(hostPath, couldNot);
  if (!handle) {
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      // gone again, or a dangling symlink: report what the create met
      throw couldNot((err as NodeJS.ErrnoException).code === 'ENOENT' ? eexist() : err);
    }
    if (st.isDirectory()) throw couldNot(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }));
    const user = await nodeUsingFile(graph, `${st.dev}:${st.ino}`);
    if (user !== undefined) {
      throw QmpError.generic(`Could not create '${path}': the image is in use by node '${user}'`);
    }
    hostPath = join(dirname(path), `.${basename(path)}.qmpd-${randomBytes(4).toString('hex')}`);
    handle = await createExclusive(hostPath, couldNot);
    if (!handle) throw couldNot(eexist());
  }
  const file = new OverlayFile(path, hostPath);
  try {
    const written = await formatQcow2(new HostFileIo(path, handle, 0), {
      size: req.size,
      backingFile: req.backingFile,
      backingFormat: req.backingFormat,
    });
    const st = await handle.stat();
    // the overlay's node takes the file over as it is: no reopen, no rereading its tables
    file.keepOpen({ handle, size: st.size, identity: `${st.dev}:${st.ino}`, head: written?.subarray(0, HEAD_BYTES) });
  } catch (err) {
    await handle.close();
    await file.discard();
    throw err;
  }
  return file;
}
