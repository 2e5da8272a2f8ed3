/**
 * The transaction runner.
 *
 *   prepare 1..n in order   (action k sees the graph changes of 1..k-1)
 *   first failure:          abort k..1 in reverse (k, whose prepare failed, included)
 *   otherwise:              commit 1..n (started in order)
 *   always:                 clean 1..n (started in order), then answer
 *
 * THE LOCK RULE (the bug QEMU fixed): no phase may hold a lock, mutex or
 * queue slot that in-flight I/O needs while it waits, nor keep one from one
 * phase to the next. A drained section (drain.ts) is what keeps nodes quiet
 * across phases: it admits no new request and waits for the admitted ones,
 * which complete without needing anything the transaction holds. The only
 * lock held for the whole transaction is the graph mutex, which serializes
 * graph changes between monitors and which I/O never takes. Driver-internal
 * locks (qcow2 metadata) are only ever taken inside a request, never here.
 */
import type { Logger } from 'pino';
import { QmpError } from '../../qmp/error.js';
import type { QDict } from '../../qmp/json/value.js';
import type { BlockGraph } from '../graph.js';
import type { ActionContext, CompletionMode, TransactionAction } from './action.js';
import { transactionErrors } from './errors.js';
import { findAction } from './registry.js';

export interface TransactionRequest {
  type: string;
  data: QDict;
}

export interface TransactionObserver {
  committed(): void;
  aborted(): void;
}

async function quietly(log: Logger, phase: string, fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (err) {
    // commit/abort/clean cannot fail in QEMU's model; a failure here is a bug to log, not an answer
    log.error({ err, phase }, 'transaction phase failed');
  }
}

export async function runTransaction(
  graph: BlockGraph,
  log: Logger,
  requests: readonly TransactionRequest[],
  completionMode: CompletionMode,
  observer?: TransactionObserver,
): Promise<void> {
  await graph.mutex.run(async () => {
    const ctx: ActionContext = { graph, log, completionMode, shared: new Map(), finally: [] };
    const byType = new Map<string, { data: QDict }[]>();
    for (const r of requests) byType.set(r.type, [...(byType.get(r.type) ?? []), { data: r.data }]);
    for (const [name, list] of byType) findAction(name)?.precreate?.(list, ctx);

    const started: TransactionAction[] = [];
    let failure: unknown;
    for (const r of requests) {
      const type = findAction(r.type);
      if (!type) {
        failure = transactionErrors.unsupported(r.type);
        break;
      }
      const action = type.create(r.data, ctx);
      started.push(action);
      try {
        await action.prepare();
      } catch (err) {
        failure = err;
        break;
      }
    }
    if (failure === undefined) {
      // Commits start in order; each does its graph part synchronously, and their I/O
      // (reopening bases read-only) is independent, so it runs concurrently.
      await Promise.all(started.map((a) => quietly(log, 'commit', () => a.commit())));
    } else {
      for (const a of [...started].reverse()) await quietly(log, 'abort', () => a.abort());
    }
    await Promise.all(started.map((a) => quietly(log, 'clean', () => a.clean())));
    for (const fn of ctx.finally) await quietly(log, 'finally', fn);
    if (failure !== undefined) {
      observer?.aborted();
      throw failure instanceof QmpError ? failure : QmpError.generic(String(failure), { cause: failure });
    }
    observer?.committed();
  });
}
