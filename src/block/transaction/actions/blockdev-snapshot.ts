/** `blockdev-snapshot`: put an existing overlay node (blockdev-add'ed, backing: null) on top of a node. */
import type { QDict } from '../../../qmp/json/value.js';
import { ExternalSnapshot } from '../../snapshot/external.js';
import type { ActionContext } from '../action.js';
import { refuseGrouped } from '../errors.js';
import { registerAction } from '../registry.js';

const NAME = 'blockdev-snapshot';

function create(data: QDict, ctx: ActionContext) {
  const node = data.node as string;
  const overlayName = data.overlay as string;
  const snap = new ExternalSnapshot(ctx.graph, ctx.log);
  return {
    async prepare() {
      refuseGrouped(NAME, ctx.completionMode);
      await snap.begin(node, node);
      snap.append(ctx.graph.lookup(overlayName, overlayName));
    },
    commit: () => snap.commit(),
    abort: () => snap.abort(),
    clean: () => snap.clean(),
  };
}

registerAction({ name: NAME, create });
