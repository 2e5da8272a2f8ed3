/**
 * In-flight request counting. Drains wait for counts to reach zero; every
 * counter that drops to zero wakes the waiters, which re-check their own
 * condition (cheap: drains are rare, requests are many).
 */

let waiters: (() => void)[] = [];

export class InFlight {
  count = 0;

  inc(): void {
    this.count++;
  }

  dec(): void {
    if (--this.count === 0 && waiters.length > 0) {
      const wake = waiters;
      waiters = [];
      for (const w of wake) w();
    }
  }
}

/** Resolves after the next time any counter drops to zero. */
export function nextSettle(): Promise<void> {
  return new Promise((resolve) => waiters.push(resolve));
}

/** Waits until `idle()` is true, re-checking whenever some counter settles. */
export async function waitUntil(idle: () => boolean): Promise<void> {
  while (!idle()) await nextSettle();
}
