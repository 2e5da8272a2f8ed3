/**
 * Guest clusters whose allocation is in progress: between choosing host
 * clusters (under the metadata mutex) and pointing the L2 entries at them
 * (under the mutex again) the data is written without the mutex. Anything
 * else that would change those L2 entries waits for the allocation first.
 */
interface InflightRange {
  first: number;
  last: number;
  done: Promise<void>;
  resolve: () => void;
}

export class InflightAllocations {
  private readonly ranges = new Set<InflightRange>();

  /** A promise for an allocation overlapping clusters [first, last], if there is one. */
  overlapping(first: number, last: number): Promise<void> | undefined {
    for (const r of this.ranges) if (r.first <= last && first <= r.last) return r.done;
    return undefined;
  }

  add(first: number, last: number): InflightRange {
    let resolve: () => void = () => undefined;
    const done = new Promise<void>((res) => (resolve = res));
    const r = { first, last, done, resolve };
    this.ranges.add(r);
    return r;
  }

  remove(r: InflightRange): void {
    this.ranges.delete(r);
    r.resolve();
  }
}
