/**
 * A FIFO async mutex. The qcow2 driver serializes metadata changes with it;
 * holders only ever await the file and backing children, never the graph's
 * drain, so holding it cannot deadlock against a drained section.
 */
export class Mutex {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  /** Resolves with the release function once the caller owns the mutex. */
  lock(): Promise<() => void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => this.waiters.push(() => resolve(this.releaser())));
  }

  get isHeld(): boolean {
    return this.held;
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.held = false;
    };
  }

  /** Runs `fn` while holding the mutex. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
