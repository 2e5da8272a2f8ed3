/**
 * The qcow2 format driver (docs/qcow2-format.md). Opening validates the
 * header and the top-level tables and writes nothing; see image.ts for the
 * concurrency rules and instance.ts for the operations.
 */
import { QmpError } from '../../../qmp/error.js';
import type { BlockDriver, DriverInstance, DriverOpenContext } from '../driver.js';
import { readBitmapDirectory } from './bitmaps.js';
import { Qcow2Image } from './image.js';
import { Qcow2Instance } from './instance.js';
import { checkQcow2Options } from './runtime-options.js';

/** qcow2_runtime_opts that a reopen may change (QEMU's mutable_opts); `encrypt` is read too. */
const MUTABLE_OPTIONS = [
  'lazy-refcounts',
  'pass-discard-request',
  'pass-discard-snapshot',
  'pass-discard-other',
  'overlap-check',
  'cache-size',
  'l2-cache-size',
  'l2-cache-entry-size',
  'refcount-cache-size',
  'cache-clean-interval',
];

export const qcow2: BlockDriver = {
  name: 'qcow2',
  protocol: false,
  supportsBacking: true,
  reopenOptions: [...MUTABLE_OPTIONS, 'encrypt'],
  mutableOptions: MUTABLE_OPTIONS,
  async open(ctx: DriverOpenContext): Promise<DriverInstance> {
    if (ctx.file === undefined) throw QmpError.generic("Parameter 'file' is missing");
    const img = await Qcow2Image.open({
      file: ctx.file,
      backing: () => ctx.backing(),
      readOnly: ctx.readOnly,
      log: ctx.log,
    });
    // QEMU parses the runtime options once the header and tables are read, before the bitmaps
    checkQcow2Options(ctx.options, img);
    await readBitmapDirectory(img);
    return new Qcow2Instance(img);
  },
};
