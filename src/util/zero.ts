/** Whether a buffer holds nothing but zero bytes (QEMU's buffer_is_zero), compared natively in slices. */
const SLICE = 64 * 1024;
const ZEROES = Buffer.alloc(SLICE);

export function isZeroBuffer(buf: Buffer): boolean {
  // most data is not zero, and says so in its first byte
  if (buf.length === 0) return true;
  if (buf[0] !== 0) return false;
  for (let at = 0; at < buf.length; at += SLICE) {
    const end = Math.min(at + SLICE, buf.length);
    if (!buf.subarray(at, end).equals(ZEROES.subarray(0, end - at))) return false;
  }
  return true;
}
