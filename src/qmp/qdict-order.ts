/**
 * The order in which QEMU walks the members of a QDict: its 512 hash buckets
 * (tdb_hash) in ascending order, newest entry first within a bucket. QEMU's
 * envelope checks report the first offending member in this order.
 */

const QDICT_BUCKET_MAX = 512;

export function qdictBucket(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value + ((bytes[i]! << ((i * 5) % 24)) >>> 0)) >>> 0;
  }
  return ((Math.imul(1103515243, value) + 12345) >>> 0) % QDICT_BUCKET_MAX;
}

/** `keys` in insertion order → the order QEMU iterates them. */
export function qdictOrder(keys: readonly string[]): string[] {
  return keys
    .map((key, index) => ({ key, index, bucket: qdictBucket(key) }))
    .sort((a, b) => a.bucket - b.bucket || b.index - a.index)
    .map((e) => e.key);
}
