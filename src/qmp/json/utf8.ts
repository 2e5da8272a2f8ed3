/**
 * QEMU's "modified UTF-8" rules (util/unicode.c): what a JSON string may
 * contain and how invalid bytes are replaced when text is echoed back.
 */

const MIN_CODEPOINT = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];

export function isValidCodepoint(cp: number): boolean {
  if (cp > 0x10ffff) return false;
  // noncharacters
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return false;
  return !(cp >= 0xd800 && cp <= 0xdfff);
}

/**
 * Decodes one code point at `pos` (not past `end`). Returns the code point or -1,
 * and the position after the bytes consumed, exactly as QEMU consumes them.
 */
export function decodeCodepoint(bytes: Uint8Array, pos: number, end: number): { cp: number; next: number } {
  let byte = bytes[pos]!;
  let p = pos + 1;
  if (byte < 0x80) return { cp: byte, next: p };
  if (byte >= 0xfe || (byte & 0x40) === 0) return { cp: -1, next: p };
  let len = 0;
  let mask = 0x80;
  for (; byte & mask; mask >>= 1) len++;
  let cp = byte & (mask - 1);
  for (let i = 1; i < len; i++) {
    byte = p < end ? bytes[p]! : 0;
    if ((byte & 0xc0) !== 0x80) return { cp: -1, next: p };
    p++;
    cp = cp * 64 + (byte & 0x3f);
  }
  if (!isValidCodepoint(cp)) return { cp: -1, next: p };
  // overlong forms are invalid, except C0 80 which is modified UTF-8's NUL
  if (cp < MIN_CODEPOINT[len - 2]! && !(cp === 0 && len === 2)) return { cp: -1, next: p };
  return { cp, next: p };
}

/** Bytes to text, with every invalid sequence turned into U+FFFD the way QEMU prints it. */
export function decodeLenient(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  let p = start;
  while (p < end) {
    if (bytes[p] === 0) break; // C strings stop at NUL
    const { cp, next } = decodeCodepoint(bytes, p, end);
    out += String.fromCodePoint(cp < 0 ? 0xfffd : cp);
    p = next;
  }
  return out;
}
