/** QEMU 7.2's texts for transaction-level errors. */
import { QmpError } from '../../qmp/error.js';
import type { CompletionMode } from './action.js';

export function refuseGrouped(action: string, mode: CompletionMode): void {
  if (mode === 'grouped') {
    throw QmpError.generic(`Action '${action}' does not support Transaction property completion-mode = ${mode}`);
  }
}

export const transactionErrors = {
  aborted: () => QmpError.generic('Transaction aborted using Abort action'),
  unsupported: (type: string) => QmpError.generic(`Transaction action '${type}' is not supported by qmpd`),
};
