/** Size arguments of blockdev-create: QAPI `size` (uint64), as a bigint. */

/**
 * The validated value is a number or, past 2^53, a bigint. A negative JSON
 * integer passes QEMU's visitor and wraps around to 2^64 - n, which then
 * fails later as an invalid size; qmpd wraps it the same way.
 */
export function sizeArgument(value: number | bigint): bigint {
  return BigInt.asUintN(64, BigInt(value));
}
