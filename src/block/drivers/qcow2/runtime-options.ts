/**
 * qcow2's runtime options (cache sizes, cache-clean-interval, lazy-refcounts,
 * encrypt), checked as qcow2_update_options_prepare does when the image
 * opens: same order, same texts. qmpd sizes its own caches; it only refuses
 * what QEMU refuses.
 */
import { QmpError } from '../../../qmp/error.js';
import { isDict, type QDict } from '../../../qmp/json/value.js';
import { checkSizeOptions, optU64 } from '../runtime-opts.js';
import { MIN_CLUSTER_BITS } from './constants.js';
import { lazyRefcounts } from './header.js';
import type { Qcow2Image } from './image.js';

/** QEMU_OPT_SIZE members of qcow2_runtime_opts, in BlockdevOptionsQcow2 order. */
const SIZE_OPTIONS = ['cache-size', 'l2-cache-size', 'l2-cache-entry-size', 'refcount-cache-size'];
const DEFAULT_L2_CACHE_MAX_SIZE = 32n * 1024n * 1024n;
const MIN_REFCOUNT_CACHE_SIZE = 4n;
const INT_MAX = 2n ** 31n - 1n;
const UINT_MAX = 2n ** 32n - 1n;

const roundUp = (n: bigint, m: bigint): bigint => ((n + m - 1n) / m) * m;

export function checkQcow2Options(o: QDict, img: Qcow2Image): void {
  checkSizeOptions(o, SIZE_OPTIONS);

  // read_cache_sizes
  const cs = BigInt(img.cs);
  const diskSize = (BigInt(img.size) / 512n) * 512n;
  const maxL2Cache = roundUp(((diskSize + cs - 1n) / cs) * BigInt(img.l2EntryBytes), cs);
  const minRefcountCache = MIN_REFCOUNT_CACHE_SIZE * cs;
  const combinedSet = o['cache-size'] !== undefined;
  const l2Set = o['l2-cache-size'] !== undefined;
  const refcountSet = o['refcount-cache-size'] !== undefined;
  const entrySet = o['l2-cache-entry-size'] !== undefined;
  const combined = optU64(o, 'cache-size', 0n);
  const l2Max = optU64(o, 'l2-cache-size', DEFAULT_L2_CACHE_MAX_SIZE);
  let refcount = optU64(o, 'refcount-cache-size', 0n);
  let entry = optU64(o, 'l2-cache-entry-size', cs);
  let l2 = maxL2Cache < l2Max ? maxL2Cache : l2Max;
  if (combinedSet) {
    if (l2Set && refcountSet) {
      throw QmpError.generic('cache-size, l2-cache-size and refcount-cache-size may not be set at the same time');
    } else if (l2Set && l2Max > combined) {
      throw QmpError.generic('l2-cache-size may not exceed cache-size');
    } else if (refcount > combined) {
      throw QmpError.generic('refcount-cache-size may not exceed cache-size');
    }
    if (l2Set) {
      refcount = combined - l2;
    } else if (refcountSet) {
      l2 = combined - refcount;
    } else if (combined >= maxL2Cache + minRefcountCache) {
      l2 = maxL2Cache;
      refcount = combined - l2;
    } else {
      refcount = combined < minRefcountCache ? combined : minRefcountCache;
      l2 = combined - refcount;
    }
    // the subtractions above are uint64 in QEMU
    refcount = BigInt.asUintN(64, refcount);
    l2 = BigInt.asUintN(64, l2);
  }
  if (l2 < maxL2Cache && !entrySet) entry = cs < 4096n ? cs : 4096n;
  const minEntry = 1n << BigInt(MIN_CLUSTER_BITS);
  if (entry < minEntry || entry > cs || (entry & (entry - 1n)) !== 0n) {
    throw QmpError.generic(
      `L2 cache entry size must be a power of two between ${minEntry} and the cluster size (${cs})`,
    );
  }

  // qcow2_update_options_prepare, after read_cache_sizes
  if (l2 / entry > INT_MAX) throw QmpError.generic('L2 cache size too big');
  if (refcount / cs > INT_MAX) throw QmpError.generic('Refcount cache size too big');
  // QEMU_OPT_NUMBER takes a '-' and wraps it (qemu_strtou64)
  if (optU64(o, 'cache-clean-interval', 0n) > UINT_MAX) throw QmpError.generic('Cache clean interval too big');
  const lazy = o['lazy-refcounts'];
  if ((typeof lazy === 'boolean' ? lazy : lazyRefcounts(img.header)) && img.header.version < 3) {
    throw QmpError.generic('Lazy refcounts require a qcow2 image with at least qemu 1.1 compatibility level');
  }
  // an encrypted image is refused earlier, so any encrypt options meet a plain header
  const enc = o.encrypt;
  if (isDict(enc) && typeof enc.format === 'string') {
    throw QmpError.generic(`No encryption in image header, but options specified format '${enc.format}'`);
  }
}
