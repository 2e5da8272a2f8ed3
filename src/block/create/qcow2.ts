/**
 * blockdev-create for `qcow2` (qcow2_co_create): the options checked in
 * QEMU 7.2's order with its texts, then the image laid out by formatQcow2
 * through the node named by `file`. What qmpd's qcow2 cannot write yet
 * (preallocation, external data files, encryption) is
 * refused before anything is written.
 */
import type { BlockdevCreateOptionsQcow2 } from '../../qapi/generated/types.js';
import { QmpError } from '../../qmp/error.js';
import type { QDict } from '../../qmp/json/value.js';
import { formatQcow2, type Qcow2CreateOptions } from '../drivers/qcow2/create.js';
import type { BlockGraph } from '../graph.js';
import type { Job } from '../jobs/job.js';
import { sizeArgument } from './size.js';
import { CreateTarget } from './target.js';

const SECTOR = 512n;
const MIN_CLUSTER = 512;
const MAX_CLUSTER = 2 * 1024 * 1024;
const DEFAULT_CLUSTER = 65536;
/** 32 subclusters of at least 512 bytes */
const MIN_EXTL2_CLUSTER = 16384;
const MAX_REFCOUNT_BITS = 64;
const V3_ONLY = '(use version=v3 or greater)';

const fail = (desc: string): QmpError => QmpError.generic(desc);
const unsupported = (what: string): QmpError => QmpError.generic(`${what} not supported by qmpd`);

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** The checks qcow2_co_create makes before it writes, in its order. */
export function checkQcow2Options(o: BlockdevCreateOptionsQcow2): Qcow2CreateOptions {
  const size = sizeArgument(o.size);
  if (size % SECTOR !== 0n) throw fail('Image size must be a multiple of 512 bytes');
  const version = o.version === 'v2' ? 2 : 3;
  const clusterSize = o['cluster-size'] === undefined ? DEFAULT_CLUSTER : Number(sizeArgument(o['cluster-size']));
  const extendedL2 = o['extended-l2'] ?? false;
  if (extendedL2 && version < 3) {
    throw fail(`Extended L2 entries are only supported with compatibility level 1.1 and above ${V3_ONLY}`);
  }
  if (!isPowerOfTwo(clusterSize) || clusterSize < MIN_CLUSTER || clusterSize > MAX_CLUSTER) {
    throw fail('Cluster size must be a power of two between 512 and 2048k');
  }
  if (extendedL2 && clusterSize < MIN_EXTL2_CLUSTER) {
    throw fail(`Extended L2 entries are only supported with cluster sizes of at least ${MIN_EXTL2_CLUSTER} bytes`);
  }
  const prealloc = o.preallocation ?? 'off';
  const backingFile = o['backing-file'];
  if (backingFile !== undefined && prealloc !== 'off' && !extendedL2) {
    throw fail('Backing file and preallocation can only be used at the same time if extended_l2 is on');
  }
  if (o['backing-fmt'] !== undefined && backingFile === undefined) {
    throw fail('Backing format cannot be used without backing file');
  }
  const lazy = o['lazy-refcounts'] ?? false;
  if (version < 3 && lazy) throw fail(`Lazy refcounts only supported with compatibility level 1.1 and above ${V3_ONLY}`);
  const refcountBits = o['refcount-bits'] === undefined ? 16 : Number(o['refcount-bits']);
  if (refcountBits > MAX_REFCOUNT_BITS || !isPowerOfTwo(refcountBits)) {
    throw fail('Refcount width must be a power of two and may not exceed 64 bits');
  }
  if (version < 3 && refcountBits !== 16) {
    throw fail(`Different refcount widths than 16 bits require compatibility level 1.1 or above ${V3_ONLY}`);
  }
  const dataFileRaw = o['data-file-raw'] ?? false;
  if (dataFileRaw && o['data-file'] === undefined) throw fail('data-file-raw requires data-file');
  if (dataFileRaw && backingFile !== undefined) {
    throw fail('Backing file and data-file-raw cannot be used at the same time');
  }
  if (o['data-file'] !== undefined) {
    if (version < 3) {
      throw fail(`External data files are only supported with compatibility level 1.1 and above ${V3_ONLY}`);
    }
    throw unsupported('External data files are');
  }
  const compression = o['compression-type'];
  if (compression !== undefined && compression !== 'zlib' && version < 3) {
    throw fail(`Non-zlib compression type is only supported with compatibility level 1.1 and above ${V3_ONLY}`);
  }
  if (prealloc !== 'off') throw unsupported(`Preallocation mode '${prealloc}' for qcow2 is`);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw fail(`Could not resize image: offset(${size}) exceeds maximum(${Number.MAX_SAFE_INTEGER})`);
  }
  const plan: Qcow2CreateOptions = {
    size: Number(size),
    clusterSize,
    refcountBits,
    compat: version === 2 ? '0.10' : '1.1',
    lazyRefcounts: lazy,
    extendedL2,
    zstd: compression === 'zstd',
  };
  if (backingFile !== undefined) plan.backingFile = backingFile;
  if (o['backing-fmt'] !== undefined) plan.backingFormat = o['backing-fmt'];
  return plan;
}

export async function createQcow2(job: Job, graph: BlockGraph, o: BlockdevCreateOptionsQcow2): Promise<void> {
  let plan: Qcow2CreateOptions | undefined;
  const check = () => void (plan = checkQcow2Options(o));
  let target: CreateTarget;
  if (typeof o.file === 'string') {
    target = await CreateTarget.attachExisting(graph, o.file, check);
  } else {
    // QEMU opens an inline definition after the command has replied.
    job.yieldToMonitor();
    target = await CreateTarget.openInline(graph, o.file as unknown as QDict);
    try {
      check();
    } catch (err) {
      await target.release();
      throw err;
    }
  }
  try {
    job.yieldToMonitor();
    // QEMU fails on encryption only after writing the header; qmpd refuses before writing anything.
    if (o.encrypt !== undefined) throw unsupported('Encryption is');
    await formatQcow2(target, plan!);
  } finally {
    await target.release();
  }
}
