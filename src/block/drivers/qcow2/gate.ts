/**
 * Keeps guest writes out of whole-image metadata operations (internal
 * snapshot create/delete, resize). Writes into COPIED clusters run without
 * the metadata mutex, so the mutex alone cannot stop one from landing in a
 * cluster that a new snapshot is about to share, or that a shrink is about
 * to free: such an operation first waits for the writes in flight and holds
 * new ones until it is done. Operations run one at a time.
 */
export class WriteGate {
  private writers = 0;
  /** Resolves when the running exclusive operation ends. */
  private closed: Promise<void> | null = null;
  private idle: (() => void) | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  /** Admits a write at once unless an exclusive operation runs; pair with `leave`. */
  tryEnter(): boolean {
    if (this.closed !== null) return false;
    this.writers++;
    return true;
  }

  async enter(): Promise<void> {
    while (this.closed !== null) await this.closed;
    this.writers++;
  }

  leave(): void {
    this.writers--;
    if (this.writers === 0 && this.idle !== null) this.idle();
  }

  /** Runs `fn` with no write in flight and none admitted. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => this.runExclusive(fn));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    let open: () => void = () => undefined;
    this.closed = new Promise<void>((resolve) => (open = resolve));
    try {
      if (this.writers > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      this.idle = null;
      return await fn();
    } finally {
      this.closed = null;
      open();
    }
  }
}
