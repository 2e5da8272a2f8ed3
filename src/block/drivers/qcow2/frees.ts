/**
 * Deferred cluster frees. A cluster whose last reference was dropped (discard,
 * zero with unmap, copy-on-write) keeps its refcount until
 *  1. the metadata change that dropped the reference is on disk (a refcount of 0
 *     next to a surviving reference is a corruption), and
 *  2. every request that might still touch the cluster has finished (a write
 *     that looked the cluster up before the discard must not land in a cluster
 *     that was meanwhile handed out again).
 * Requests enter an epoch when they start; a free queued in epoch e is released
 * once no request of epoch <= e is running and a write-back has passed.
 */
export interface HostRange {
  /** first cluster index */
  cluster: number;
  count: number;
}

interface PendingFree extends HostRange {
  epoch: number;
}

export class DeferredFrees {
  private epoch = 0;
  private readonly running = new Map<number, number>();
  private pending: PendingFree[] = [];

  /** Marks the start of a request; pass the result to `end`. */
  begin(): number {
    const e = this.epoch;
    this.running.set(e, (this.running.get(e) ?? 0) + 1);
    return e;
  }

  end(e: number): void {
    const n = (this.running.get(e) ?? 1) - 1;
    if (n === 0) this.running.delete(e);
    else this.running.set(e, n);
  }

  /** Queues clusters whose references are gone from the in-memory metadata. */
  queue(cluster: number, count: number): void {
    this.pending.push({ cluster, count, epoch: this.epoch });
    // later requests belong to a newer epoch, so they do not hold this free back
    this.epoch++;
  }

  get size(): number {
    return this.pending.length;
  }

  /**
   * Removes and returns the frees whose requests have all finished. Call only
   * right after a write-back made the current metadata durable.
   */
  takeReleasable(): HostRange[] {
    let oldest = Infinity;
    for (const e of this.running.keys()) oldest = Math.min(oldest, e);
    const ready = this.pending.filter((f) => f.epoch < oldest);
    this.pending = this.pending.filter((f) => f.epoch >= oldest);
    return ready.map(({ cluster, count }) => ({ cluster, count }));
  }
}
