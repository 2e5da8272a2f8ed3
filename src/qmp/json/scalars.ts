/**
 * The text of JSON scalars as QEMU's json-writer prints them: strings with
 * every character outside printable ASCII as \uXXXX in upper-case hex (astral
 * ones as surrogate pairs), doubles as printf's "%.17g".
 */
const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5c: '\\\\',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
};

function hex4(code: number): string {
  return '\\u' + code.toString(16).toUpperCase().padStart(4, '0');
}

/** True when `s` goes out between quotes as it is (printable ASCII, no quote or backslash). */
export function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A JSON string literal. */
export function encodeString(s: string): string {
  return isPlain(s) ? '"' + s + '"' : encodeEscaped(s);
}

function encodeEscaped(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(runStart, i);
    runStart = i + 1;
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) {
      out += short;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        out += hex4(c) + hex4(low);
        i++;
        runStart = i + 1;
      } else {
        out += hex4(0xfffd);
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += hex4(0xfffd); // a lone surrogate is not a character
    } else {
      out += hex4(c);
    }
  }
  return out + s.slice(runStart) + '"';
}

/** printf("%.17g", x) for a finite or infinite double. */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, expText] = x.toExponential(16).split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let body: string;
  if (exp < -4 || exp >= 17) {
    const frac = digits.slice(1).replace(/0+$/, '');
    const e = Math.abs(exp).toString().padStart(2, '0');
    body = digits[0] + (frac ? '.' + frac : '') + 'e' + (exp < 0 ? '-' : '+') + e;
  } else if (exp >= 0) {
    const int = digits.slice(0, exp + 1);
    const frac = digits.slice(exp + 1).replace(/0+$/, '');
    body = int + (frac ? '.' + frac : '');
  } else {
    const frac = ('0'.repeat(-exp - 1) + digits).replace(/0+$/, '');
    body = '0.' + frac;
  }
  return negative ? '-' + body : body;
}
