/**
 * JSON output exactly as QEMU's json-writer prints it: members in QDict
 * order (member-order.ts), ", " and ": " separators, scalars as scalars.ts
 * writes them, and in pretty mode four spaces per level. Lines end in CR LF
 * on the wire.
 *
 * The text is pure ASCII, so it is written straight into bytes and read back
 * as one flat string: a large answer (query-named-block-nodes of 10,000
 * nodes, 5 MB) costs one buffer and one string, not a string per member.
 */
import { memberOrder } from './member-order.js';
import { encodeString, formatDouble } from './scalars.js';
import { QDouble } from './value.js';

export { encodeString, formatDouble } from './scalars.js';

const INITIAL_BYTES = 64 * 1024;
/** A scratch buffer grown past this is not kept for the next message. */
const KEEP_BYTES = 1024 * 1024;
/** Text shorter than this is copied byte by byte (cheaper than a call into Buffer.write). */
const SHORT_TEXT = 16;
/**
 * Encoded bytes of long strings and of strings that need escaping: such strings
 * (paths, json: filenames) come back in every answer, mostly as the same string.
 */
const MAX_ENCODED_CACHE = 1024;
const encodedCache = new Map<string, Buffer>();
/** A character that a JSON string cannot carry as it is (see isPlain()). */
const NOT_PLAIN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

const enum Ch {
  Quote = 0x22,
  LSquare = 0x5b,
  RSquare = 0x5d,
  LCurly = 0x7b,
  RCurly = 0x7d,
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');
const COMMA = ascii(', ');

/**
 * Output bytes. Much of an answer is written before V8 has optimized this
 * code, so text is moved in few, large steps: fixed pieces (member labels,
 * literals) are copied whole, scanned once by a regular expression, and the
 * loops keep the buffer in locals rather than reading fields per byte.
 */
class AsciiWriter {
  buf = Buffer.allocUnsafe(INITIAL_BYTES);
  pos = 0;
  busy = false;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Bytes prepared once. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** ASCII text as it is. */
  text(s: string): void {
    const n = s.length;
    this.ensure(n);
    if (n >= SHORT_TEXT) {
      this.pos += this.buf.write(s, this.pos, 'latin1');
      return;
    }
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** A non-negative safe integer as decimal digits, without a string in between (most numbers in answers). */
  uint(n: number): void {
    if (n < 10) return this.byte(0x30 + n);
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.ensure(digits);
    const buf = this.buf;
    let p = this.pos + digits;
    for (let x = n; x > 0; ) {
      const q = Math.floor(x / 10);
      buf[--p] = 0x30 + (x - q * 10);
      x = q;
    }
    this.pos += digits;
  }

  string(s: string): void {
    if (s.length < SHORT_TEXT && !NOT_PLAIN.test(s)) {
      this.ensure(s.length + 2);
      const buf = this.buf;
      let pos = this.pos;
      buf[pos++] = Ch.Quote;
      for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
      buf[pos++] = Ch.Quote;
      this.pos = pos;
      return;
    }
    let encoded = encodedCache.get(s);
    if (encoded === undefined) {
      encoded = Buffer.from(encodeString(s), 'latin1');
      if (encodedCache.size >= MAX_ENCODED_CACHE) encodedCache.clear();
      encodedCache.set(s, encoded);
    }
    this.bytes(encoded);
  }

  /** The bytes written, in a buffer of their own; the writer is empty again. */
  takeBytes(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    this.pos = 0;
    return out;
  }

  /** The text written (one byte per character); the writer is empty again. */
  takeText(): string {
    const out = this.buf.toString('latin1', 0, this.pos);
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    this.pos = 0;
    return out;
  }
}

const shared = new AsciiWriter();

/** The shared writer, or a new one if encoding is somehow under way already. */
function withWriter<T>(fn: (w: AsciiWriter) => T): T {
  const w = shared.busy ? new AsciiWriter() : shared;
  w.busy = true;
  try {
    return fn(w);
  } finally {
    w.busy = false;
    w.pos = 0;
  }
}

function numberText(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63 ? String(n === 0 ? 0 : n) : formatDouble(n);
}

function compact(w: AsciiWriter, v: unknown): void {
  switch (typeof v) {
    case 'string':
      return w.string(v);
    case 'number':
      return Number.isSafeInteger(v) && v >= 0 ? w.uint(v) : w.text(numberText(v));
    case 'bigint':
      return w.text(v.toString());
    case 'boolean':
      return w.bytes(v ? TRUE : FALSE);
    case 'object': {
      if (v === null) return w.bytes(NULL);
      if (v instanceof QDouble) return w.text(formatDouble(v.value));
      if (Array.isArray(v)) {
        w.byte(Ch.LSquare);
        for (let i = 0; i < v.length; i++) {
          if (i) w.bytes(COMMA);
          compact(w, v[i]);
        }
        return w.byte(Ch.RSquare);
      }
      const obj = v as Record<string, unknown>;
      w.byte(Ch.LCurly);
      const members = memberOrder(obj);
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        w.bytes(i ? m.nextBytes : m.firstBytes);
        compact(w, obj[m.key]);
      }
      return w.byte(Ch.RCurly);
    }
    default:
      return w.text('null');
  }
}

/** Pretty form, lines ending in CR LF as on the wire. */
function pretty(w: AsciiWriter, v: unknown, depth: number): void {
  if (typeof v !== 'object' || v === null || v instanceof QDouble) return compact(w, v);
  const inner = '\r\n' + ' '.repeat(4 * (depth + 1));
  const close = '\r\n' + ' '.repeat(4 * depth);
  if (Array.isArray(v)) {
    w.byte(Ch.LSquare);
    for (let i = 0; i < v.length; i++) {
      w.text(i ? ',' + inner : inner);
      pretty(w, v[i], depth + 1);
    }
    w.text(close);
    return w.byte(Ch.RSquare);
  }
  const obj = v as Record<string, unknown>;
  w.byte(Ch.LCurly);
  let first = true;
  for (const m of memberOrder(obj)) {
    w.text(first ? inner : ',' + inner);
    w.text(m.label);
    pretty(w, obj[m.key], depth + 1);
    first = false;
  }
  w.text(close);
  w.byte(Ch.RCurly);
}

function message(w: AsciiWriter, v: unknown, prettyForm: boolean): void {
  if (prettyForm) pretty(w, v, 0);
  else compact(w, v);
  w.text('\r\n');
}

/** One wire message: the JSON text with QEMU's CR LF line ends. */
export function encodeMessage(v: unknown, prettyForm = false): string {
  return withWriter((w) => {
    message(w, v, prettyForm);
    return w.takeText();
  });
}

/** One message's JSON as bytes, without a line end (a WebSocket frame's payload). */
export function encodeMessageBody(v: unknown, prettyForm = false): Buffer {
  return withWriter((w) => {
    if (prettyForm) pretty(w, v, 0);
    else compact(w, v);
    return w.takeBytes();
  });
}

/** Compact JSON text of a value, without the line end. */
export function encodeJson(v: unknown): string {
  return withWriter((w) => {
    compact(w, v);
    return w.takeText();
  });
}
