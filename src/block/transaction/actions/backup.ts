/**
 * `drive-backup` and `blockdev-backup`: qmpd runs no backup jobs, but an
 * action still fails the way QEMU's prepare does up to the point where the
 * job would start (bdrv_lookup_bs of the source, then of the target, with
 * the same string in both slots), so a transaction with a wrong name answers
 * QEMU's error. Backup jobs accept completion-mode grouped, so it is not
 * refused here.
 */
import type { QDict } from '../../../qmp/json/value.js';
import type { ActionContext } from '../action.js';
import { transactionErrors } from '../errors.js';
import { registerAction } from '../registry.js';

function backupAction(name: string, lookups: readonly string[]) {
  return (data: QDict, ctx: ActionContext) => ({
    async prepare() {
      for (const key of lookups) {
        const ref = data[key] as string;
        ctx.graph.lookup(ref, ref);
      }
      throw transactionErrors.unsupported(name);
    },
    commit: () => {},
    abort: () => {},
    clean: () => {},
  });
}

registerAction({ name: 'drive-backup', create: backupAction('drive-backup', ['device']) });
registerAction({ name: 'blockdev-backup', create: backupAction('blockdev-backup', ['device', 'target']) });
