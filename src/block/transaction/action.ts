/**
 * A transaction action: prepare does every check and every undoable step;
 * commit makes it final and cannot fail; abort undoes whatever prepare got
 * through (also a prepare that failed halfway); clean releases what prepare
 * took (drained sections, references) on both paths.
 */
import type { Logger } from 'pino';
import type { BlockGraph } from '../graph.js';
import type { QDict } from '../../qmp/json/value.js';

export type CompletionMode = 'individual' | 'grouped';

export interface TransactionAction {
  prepare(): Promise<void>;
  commit(): Promise<void> | void;
  abort(): Promise<void> | void;
  clean(): Promise<void> | void;
}

export interface ActionContext {
  readonly graph: BlockGraph;
  readonly log: Logger;
  readonly completionMode: CompletionMode;
  /** Work other actions of the same transaction started early (overlay creation). */
  readonly shared: Map<string, unknown>;
  /** Run once after every clean, on success and failure alike. */
  readonly finally: (() => Promise<void>)[];
}

export interface ActionType {
  /** The `type` value of TransactionAction on the wire. */
  readonly name: string;
  /** Actions that start jobs accept completion-mode grouped; all of qmpd's refuse it. */
  create(data: QDict, ctx: ActionContext): TransactionAction;
  /** Optional early start of slow, undoable work for all actions of this type (run before any prepare). */
  precreate?(actions: { data: QDict }[], ctx: ActionContext): void;
}
