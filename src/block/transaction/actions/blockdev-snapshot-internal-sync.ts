/**
 * `blockdev-snapshot-internal-sync` (QEMU's internal_snapshot_prepare/abort/
 * clean): prepare drains the root node, checks it in QEMU's order and takes
 * the snapshot; abort deletes it again by id and name; clean ends the drain.
 * There is nothing left to do at commit.
 */
import type { QDict } from '../../../qmp/json/value.js';
import { drainedBegin, type DrainedSection } from '../../drain.js';
import type { BlockNode } from '../../node.js';
import {
  errorText, findInternalSnapshot, internalSnapshotErrors as X, rootNode, snapshotStore,
} from '../../snapshot/internal.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'blockdev-snapshot-internal-sync';

interface Args {
  device: string;
  name: string;
}

function create(data: QDict, ctx: ActionContext) {
  const a = data as unknown as Args;
  let drain: DrainedSection | undefined;
  let created: { store: BlockNode; id: string; name: string } | undefined;
  return {
    async prepare() {
      refuseGrouped(NAME, ctx.completionMode);
      const node = rootNode(ctx.graph, a.device);
      drain = await drainedBegin([node]);
      if (node.readOnly) throw X.readOnly(a.device);
      const store = snapshotStore(node);
      if (!store) throw X.unsupported(node.driver.name, a.device);
      if (a.name.length === 0) throw X.nameEmpty();
      if (findInternalSnapshot(store.instance.listSnapshots!(), undefined, a.name)) throw X.exists(a.name, a.device);
      try {
        const sn = await store.instance.createSnapshot!(a.name);
        created = { store, id: sn.id, name: sn.name };
      } catch (err) {
        throw X.createFailed(a.name, a.device, errorText(err));
      }
    },
    commit() {},
    async abort() {
      if (!created) return;
      try {
        // by id alone: the id is unique, and a name cut at 255 bytes may not survive decoding
        await created.store.instance.deleteSnapshot!(created.id, undefined);
      } catch (err) {
        ctx.log.error(
          { err },
          `Failed to delete snapshot with id '${created.id}' and name '${created.name}' on device '${a.device}' in abort`,
        );
      }
    },
    clean() {
      drain?.end();
    },
  };
}

registerAction({ name: NAME, create });
