/**
 * JSON output exactly as QEMU's json-writer prints it: members in QDict
 * order, ", " and ": " separators, every character outside printable ASCII as \uXXXX in upper-case
 * hex (astral ones as surrogate pairs), doubles as printf's "%.17g", and in
 * pretty mode four spaces per level. Lines end in CR LF on the wire.
 */
import { qdictOrder } from '../qdict-order.js';
import { QDouble } from './value.js';

/** Members come out in QEMU's QDict order; the order of a key set is computed once. */
const MAX_CACHED_SHAPES = 4096;
const shapeOrder = new Map<string, string[]>();

function orderedKeys(obj: object): string[] {
  const keys: string[] = [];
  for (const key in obj) if ((obj as Record<string, unknown>)[key] !== undefined) keys.push(key);
  if (keys.length < 2) return keys;
  const shape = keys.join('\0');
  let order = shapeOrder.get(shape);
  if (!order) {
    order = qdictOrder(keys);
    if (shapeOrder.size >= MAX_CACHED_SHAPES) shapeOrder.clear();
    shapeOrder.set(shape, order);
  }
  return order;
}

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

export function encodeString(s: string): string {
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

function encodeNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63 ? String(n === 0 ? 0 : n) : formatDouble(n);
}

function encodeCompact(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return encodeString(v);
    case 'number':
      return encodeNumber(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (v instanceof QDouble) return formatDouble(v.value);
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += (i ? ', ' : '') + encodeCompact(v[i]);
        return out + ']';
      }
      let out = '{';
      let first = true;
      for (const key of orderedKeys(v)) {
        out += (first ? '' : ', ') + encodeString(key) + ': ' + encodeCompact((v as Record<string, unknown>)[key]);
        first = false;
      }
      return out + '}';
    }
    default:
      return 'null';
  }
}

function encodePretty(v: unknown, depth: number): string {
  if (typeof v !== 'object' || v === null || v instanceof QDouble) return encodeCompact(v);
  const inner = '\n' + ' '.repeat(4 * (depth + 1));
  const close = '\n' + ' '.repeat(4 * depth);
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + inner + encodePretty(v[i], depth + 1);
    return out + close + ']';
  }
  let out = '{';
  let first = true;
  for (const key of orderedKeys(v)) {
    out += (first ? '' : ',') + inner + encodeString(key) + ': ' + encodePretty((v as Record<string, unknown>)[key], depth + 1);
    first = false;
  }
  return out + close + '}';
}

/** One wire message: the JSON text with QEMU's CR LF line ends. */
export function encodeMessage(v: unknown, pretty = false): string {
  if (!pretty) return encodeCompact(v) + '\r\n';
  return encodePretty(v, 0).replaceAll('\n', '\r\n') + '\r\n';
}

/** Compact JSON text of a value, without the line end. */
export function encodeJson(v: unknown): string {
  return encodeCompact(v);
}
