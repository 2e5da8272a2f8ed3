/**
 * blockdev-create for `file` (file-posix's raw_co_create): create or reuse
 * the host file, take its locks, truncate it to zero, then grow it to the
 * size with the preallocation asked for. Texts are QEMU 7.2's.
 *
 * Two things qmpd does better than QEMU, on purpose: a long preallocation
 * stops at the next chunk when the job is cancelled (QEMU finishes writing
 * first), and a file that this job created is removed again when the job
 * fails or is cancelled (QEMU leaves it, possibly empty or half-written).
 */
import { constants, open, unlink, type FileHandle } from 'node:fs/promises';
import type { BlockdevCreateOptionsFile, PreallocMode } from '../../qapi/generated/types.js';
import { QmpError } from '../../qmp/error.js';
import { describeErrno } from '../../util/errno.js';
import type { BlockGraph } from '../graph.js';
import type { Job } from '../jobs/job.js';
import { cumulative, PERM_RESIZE, PERM_WRITE } from '../permissions.js';
import { sizeArgument } from './size.js';

/** Preallocation writes zeroes in chunks of this size, with a pause/cancel point between chunks. */
export const PREALLOC_CHUNK = 1024 * 1024;
/** QEMU stores the hint in a uint32. */
const MAX_EXTENT_SIZE_HINT = 0xffffffff;
/** off_t: larger sizes are negative to ftruncate (EINVAL). */
const MAX_OFF_T = 2n ** 63n - 1n;

const zeroes = Buffer.alloc(PREALLOC_CHUNK);

function errnoError(prefix: string, err: unknown): QmpError {
  return QmpError.generic(`${prefix}: ${describeErrno(err)}`, { cause: err });
}

function errnoCode(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** qemu_create(): O_RDWR | O_CREAT, mode 0644; also tells whether the file is new. */
async function openForCreate(path: string): Promise<{ handle: FileHandle; created: boolean }> {
  try {
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
    return { handle, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw errnoError(`Could not create '${path}'`, err);
  }
  try {
    return { handle: await open(path, constants.O_RDWR), created: false };
  } catch (err) {
    throw errnoError(`Could not create '${path}'`, err);
  }
}

/**
 * raw_check_lock_bytes() against the daemon's own nodes: the creation takes
 * write and resize and shares everything but resize.
 */
function checkLocks(graph: BlockGraph, identity: string): void {
  for (const node of graph.allNodes()) {
    if (node.options.locking === 'off' || node.instance.fileIdentity?.() !== identity) continue;
    const held = cumulative(node.parents);
    if (!(held.shared & PERM_WRITE)) throw QmpError.generic('Failed to get "write" lock');
    if (!(held.shared & PERM_RESIZE)) throw QmpError.generic('Failed to get "resize" lock');
    if (held.perm & PERM_RESIZE) throw QmpError.generic('Failed to get shared "resize" lock');
  }
}

/** handle_aiocb_truncate() from an empty file; returns false if the job was cancelled on the way. */
async function growFile(job: Job, handle: FileHandle, size: bigint, mode: PreallocMode): Promise<boolean> {
  if (mode === 'metadata') throw QmpError.generic('Unsupported preallocation mode: metadata');
  if (size > MAX_OFF_T) throw errnoError('Could not resize file', errnoCode('EINVAL'));
  // Node cannot address bytes past 2^53; no local file system reaches that far either.
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw errnoError('Could not resize file', errnoCode('EFBIG'));
  const length = Number(size);
  if (mode !== 'falloc') {
    try {
      await handle.truncate(length);
    } catch (err) {
      throw errnoError('Could not resize file', err);
    }
  }
  if (mode === 'off') return true;
  // posix_fallocate() without fallocate(2) writes zeroes too: Node has no fallocate.
  const failure = mode === 'full' ? 'Could not write zeros for preallocation' : 'Could not preallocate new data';
  for (let pos = 0; pos < length; pos += PREALLOC_CHUNK) {
    await job.pausePoint();
    if (job.cancelRequested) return false;
    const n = Math.min(PREALLOC_CHUNK, length - pos);
    try {
      await handle.write(zeroes, 0, n, pos);
    } catch (err) {
      throw errnoError(failure, err);
    }
  }
  if (mode === 'full') {
    try {
      await handle.sync();
    } catch (err) {
      throw errnoError('Could not flush file to disk', err);
    }
  }
  return true;
}

/** Removes a file this job created, unless a node has opened it meanwhile. */
async function removeCreated(graph: BlockGraph, path: string, identity: string): Promise<void> {
  for (const node of graph.allNodes()) if (node.instance.fileIdentity?.() === identity) return;
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') graph.log.error({ err, path }, 'could not remove a failed image');
  }
}

export async function createFile(job: Job, graph: BlockGraph, opts: BlockdevCreateOptionsFile): Promise<void> {
  const size = sizeArgument(opts.size);
  const hint = opts['extent-size-hint'];
  if (hint !== undefined && sizeArgument(hint) > MAX_EXTENT_SIZE_HINT) {
    throw QmpError.generic('Extent size hint is too large');
  }
  const { handle, created } = await openForCreate(opts.filename);
  let identity = '';
  let done = false;
  try {
    const st = await handle.stat();
    identity = `${st.dev}:${st.ino}`;
    checkLocks(graph, identity);
    job.yieldToMonitor();
    try {
      await handle.truncate(0);
    } catch (err) {
      throw errnoError('Could not resize file', err);
    }
    // nocow (FS_NOCOW_FL) and the extent size hint (XFS) are advisory; Node has no ioctl for them.
    done = await growFile(job, handle, size, opts.preallocation ?? 'off');
  } finally {
    await handle.close();
    if (!done && created) await removeCreated(graph, opts.filename, identity);
  }
}
