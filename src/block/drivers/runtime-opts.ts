/**
 * What QEMU's QemuOpts make of a driver's runtime options. BlockdevOptions
 * reach the drivers flattened into a QDict whose numbers become strings
 * again (qemu_opts_absorb_qdict); a QEMU_OPT_SIZE option parses them with
 * qemu_strtosz, which refuses any '-', so a negative 'int' member the schema
 * let through fails here. Absorbing walks the QDict in its hash order, so
 * the first offending member in that order is the one reported.
 */
import { QmpError } from '../../qmp/error.js';
import { isDict, type QDict } from '../../qmp/json/value.js';
import { qdictOrder } from '../../qmp/qdict-order.js';

/** `keys`: the driver's QEMU_OPT_SIZE options in schema order (the order the QDict was filled in). */
export function checkSizeOptions(options: QDict, keys: readonly string[]): void {
  for (const key of qdictOrder(keys.filter((k) => options[k] !== undefined))) {
    const v = options[key];
    if ((typeof v === 'number' || typeof v === 'bigint') && v < 0) {
      throw QmpError.generic(`Parameter '${key}' expects a non-negative number below 2^64`);
    }
  }
}

/** An integer option as QEMU holds it (uint64), or `dflt` when absent. */
export function optU64(options: QDict, key: string, dflt: bigint): bigint {
  const v = options[key];
  if (typeof v === 'number') return BigInt.asUintN(64, BigInt(v));
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  return dflt;
}

/**
 * A base option that QEMU leaves in the node's options and then refuses as
 * unknown (bdrv_open_inherit, after the node and its children opened):
 * qdict_flatten keeps an empty dict such as `cache: {}` under its own key,
 * which no driver consumes.
 */
export function checkLeftoverOptions(options: QDict, driver: string, protocol: boolean): void {
  const c = options.cache;
  if (!isDict(c) || Object.keys(c).length > 0) return;
  throw QmpError.generic(
    protocol
      ? `Block protocol '${driver}' doesn't support the option 'cache'`
      : `Block format '${driver}' does not support the option 'cache'`,
  );
}
