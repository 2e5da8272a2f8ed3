/**
 * Decoding of one string token (quotes included) as QEMU's parse_string does:
 * the usual escapes plus `\'`, surrogate pairs joined, modified UTF-8
 * validated, and QEMU's texts for what it refuses.
 */
import { decodeCodepoint, isValidCodepoint } from './utf8.js';

export type DecodedString = { value: string; error?: undefined } | { value?: undefined; error: string };

const SIMPLE_ESCAPES: Record<number, string> = {
  0x22: '"',
  0x27: "'",
  0x5c: '\\',
  0x2f: '/',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};

function hex4(bytes: Uint8Array, at: number, end: number): number {
  let cp = 0;
  for (let i = 0; i < 4; i++) {
    const c = at + i < end ? bytes[at + i]! : 0;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else return -1;
    cp = cp * 16 + d;
  }
  return cp;
}

/** The string token `bytes[start, tokenEnd)`, quotes included. */
export function decodeStringToken(bytes: Uint8Array, start: number, tokenEnd: number): DecodedString {
  const end = tokenEnd - 1; // the closing quote
  let out = '';
  let p = start + 1; // after the opening quote
  while (p < end) {
    const b = bytes[p]!;
    if (b === 0x5c) {
      const begin = p;
      const e = bytes[p + 1]!;
      p += 2;
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        continue;
      }
      if (e !== 0x75) return { error: 'invalid escape sequence in string' };
      let cp = hex4(bytes, p, tokenEnd);
      p += 4;
      if (cp >= 0xd800 && cp <= 0xdbff && bytes[p] === 0x5c && bytes[p + 1] === 0x75) {
        const trailing = hex4(bytes, p + 2, tokenEnd);
        if (trailing >= 0xdc00 && trailing <= 0xdfff) {
          cp = 0x10000 + ((cp & 0x3ff) << 10) + (trailing & 0x3ff);
          p += 6;
        } else {
          cp = -1;
        }
      }
      if (cp < 0 || !isValidCodepoint(cp)) {
        const shown = asBuffer(bytes).toString('latin1', begin, Math.min(p, tokenEnd));
        return { error: `${shown} is not a valid Unicode character` };
      }
      out += String.fromCodePoint(cp);
      continue;
    }
    if (b < 0x80) {
      // a run of plain ASCII is sliced at once
      let q = p + 1;
      while (q < end) {
        const c = bytes[q]!;
        if (c >= 0x80 || c === 0x5c) break;
        q++;
      }
      out += asciiText(bytes, p, q);
      p = q;
      continue;
    }
    const { cp, next } = decodeCodepoint(bytes, p, Math.min(p + 6, end));
    if (cp < 0) return { error: 'invalid UTF-8 sequence in string' };
    out += String.fromCodePoint(cp);
    p = next;
  }
  return { value: out };
}

/** Bytes below 0x80 as text. */
export function asciiText(bytes: Uint8Array, from: number, to: number): string {
  return asBuffer(bytes).toString('latin1', from, to);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
