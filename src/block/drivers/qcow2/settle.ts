/**
 * Awaits every promise, then throws the first failure. Unlike Promise.all it
 * never returns while I/O into a caller's buffer, or into clusters that are
 * about to be released, is still running.
 */
export async function settleAll(tasks: Promise<unknown>[]): Promise<void> {
  if (tasks.length === 1) {
    await tasks[0];
    return;
  }
  const results = await Promise.allSettled(tasks);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
