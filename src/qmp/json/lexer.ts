/**
 * JSON lexer over bytes: an explicit transition table in the manner of QEMU's
 * qobject/json-lexer.c (7.2), so that errors and resynchronisation match
 * QEMU's byte for byte: single-quoted strings, `\'` escapes, and after a bad
 * byte a recovery state that skips to the next structural or control byte.
 */

export const enum Tok {
  Error = 0,
  LCurly = 1,
  RCurly,
  LSquare,
  RSquare,
  Colon,
  Comma,
  Integer,
  Float,
  Keyword,
  String,
  /** the token grew past MAX_TOKEN_SIZE while still in a lexer state */
  Oversize,
}

// Lexer states; token types above are terminal "states" below FIRST_STATE.
const FIRST_STATE = 16;
const S_RECOVERY = 16;
const S_DQ_ESCAPE = 17;
const S_DQ = 18;
const S_SQ_ESCAPE = 19;
const S_SQ = 20;
const S_ZERO = 21;
const S_EXP_DIGITS = 22;
const S_EXP_SIGN = 23;
const S_EXP_E = 24;
const S_MANTISSA = 25;
const S_MANTISSA_DIGITS = 26;
const S_DIGITS = 27;
const S_SIGN = 28;
const S_KEYWORD = 29;
const S_START = 30;
const STATE_COUNT = 31;

/** Transition that does not consume the byte: the byte is looked at again in the new state. */
const LOOKAHEAD = 0x80;

/** QEMU's MAX_TOKEN_SIZE: one token (and one message's tokens together) at most 64 MiB. */
export const MAX_TOKEN_SIZE = 64 * 1024 * 1024;

/** A token buffer grown past this is given back once its token is delivered. */
const TOKEN_BUFFER_KEEP = 64 * 1024;

/** Transitions, 256 per state: TABLE[state * 256 + byte]. */
function buildTable(): Uint8Array {
  const t = new Uint8Array(STATE_COUNT * 256); // default: Tok.Error
  const range = (s: number, lo: number, hi: number, to: number) => {
    for (let c = lo; c <= hi; c++) t[s * 256 + c] = to;
  };
  const ch = (c: string) => c.charCodeAt(0);
  const set = (s: number, c: string, to: number) => {
    t[s * 256 + ch(c)] = to;
  };

  // Recovery skips to a promising resynchronisation point without consuming it.
  range(S_RECOVERY, 0x00, 0x1f, S_START | LOOKAHEAD);
  range(S_RECOVERY, 0x20, 0xfd, S_RECOVERY);
  range(S_RECOVERY, 0xfe, 0xff, S_START | LOOKAHEAD);
  set(S_RECOVERY, '\t', S_RECOVERY);
  for (const c of '[]{}:,') set(S_RECOVERY, c, S_START | LOOKAHEAD);

  range(S_DQ_ESCAPE, 0x20, 0xfd, S_DQ);
  range(S_DQ, 0x20, 0xfd, S_DQ);
  set(S_DQ, '\\', S_DQ_ESCAPE);
  set(S_DQ, '"', Tok.String);
  range(S_SQ_ESCAPE, 0x20, 0xfd, S_SQ);
  range(S_SQ, 0x20, 0xfd, S_SQ);
  set(S_SQ, '\\', S_SQ_ESCAPE);
  set(S_SQ, "'", Tok.String);

  range(S_ZERO, 0, 0xff, Tok.Integer | LOOKAHEAD);
  range(S_ZERO, ch('0'), ch('9'), Tok.Error);
  set(S_ZERO, '.', S_MANTISSA);

  range(S_EXP_DIGITS, 0, 0xff, Tok.Float | LOOKAHEAD);
  range(S_EXP_DIGITS, ch('0'), ch('9'), S_EXP_DIGITS);
  range(S_EXP_SIGN, ch('0'), ch('9'), S_EXP_DIGITS);
  set(S_EXP_E, '-', S_EXP_SIGN);
  set(S_EXP_E, '+', S_EXP_SIGN);
  range(S_EXP_E, ch('0'), ch('9'), S_EXP_DIGITS);

  range(S_MANTISSA_DIGITS, 0, 0xff, Tok.Float | LOOKAHEAD);
  range(S_MANTISSA_DIGITS, ch('0'), ch('9'), S_MANTISSA_DIGITS);
  set(S_MANTISSA_DIGITS, 'e', S_EXP_E);
  set(S_MANTISSA_DIGITS, 'E', S_EXP_E);
  range(S_MANTISSA, ch('0'), ch('9'), S_MANTISSA_DIGITS);

  range(S_DIGITS, 0, 0xff, Tok.Integer | LOOKAHEAD);
  range(S_DIGITS, ch('0'), ch('9'), S_DIGITS);
  set(S_DIGITS, 'e', S_EXP_E);
  set(S_DIGITS, 'E', S_EXP_E);
  set(S_DIGITS, '.', S_MANTISSA);
  set(S_SIGN, '0', S_ZERO);
  range(S_SIGN, ch('1'), ch('9'), S_DIGITS);

  range(S_KEYWORD, 0, 0xff, Tok.Keyword | LOOKAHEAD);
  range(S_KEYWORD, ch('a'), ch('z'), S_KEYWORD);

  set(S_START, '"', S_DQ);
  set(S_START, "'", S_SQ);
  set(S_START, '0', S_ZERO);
  range(S_START, ch('1'), ch('9'), S_DIGITS);
  set(S_START, '-', S_SIGN);
  set(S_START, '{', Tok.LCurly);
  set(S_START, '}', Tok.RCurly);
  set(S_START, '[', Tok.LSquare);
  set(S_START, ']', Tok.RSquare);
  set(S_START, ',', Tok.Comma);
  set(S_START, ':', Tok.Colon);
  range(S_START, ch('a'), ch('z'), S_KEYWORD);
  for (const c of ' \t\r\n') set(S_START, c, S_START);
  return t;
}

const TABLE = buildTable();

/**
 * A finished token: its bytes are `bytes[start, end)`, valid only during the
 * call (a view of the input chunk when the token lies within it, else of the
 * lexer's own buffer).
 */
export type TokenSink = (type: Tok, bytes: Uint8Array, start: number, end: number) => void;

export class JsonLexer {
  private state = S_START;
  /** Bytes of an unfinished token from earlier chunks. */
  private token = Buffer.allocUnsafe(64);
  private length = 0;

  constructor(private readonly sink: TokenSink) {}

  /** Bytes held for the token being lexed (bounded by MAX_TOKEN_SIZE). */
  get bufferedBytes(): number {
    return this.length;
  }

  reset(): void {
    this.state = S_START;
    this.length = 0;
  }

  /**
   * The transition loop, with state in locals: a token that begins and ends
   * within the chunk is handed on as a view of it, only a token cut by the
   * chunk's end is copied.
   */
  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    let state = this.state;
    let start = 0; // where the current token's bytes in this chunk begin
    let i = 0;
    while (i < n) {
      if (state === S_DQ || state === S_SQ) {
        // plain bytes inside a string need no transition each
        const quote = state === S_DQ ? 0x22 : 0x27;
        while (i < n) {
          const b = chunk[i]!;
          if (b < 0x20 || b > 0xfd || b === quote || b === 0x5c) break;
          i++;
        }
        if (this.length + (i - start) > MAX_TOKEN_SIZE) {
          this.deliver(Tok.Oversize, chunk, start, i);
          state = S_START;
          start = i;
          continue;
        }
        if (i === n) break;
      }
      const next = TABLE[state * 256 + chunk[i]!]!;
      const to = next & ~LOOKAHEAD;
      const consumed = (next & LOOKAHEAD) === 0;
      const end = consumed ? i + 1 : i;
      if (to >= FIRST_STATE) {
        if (to === S_START || to === S_RECOVERY) {
          this.length = 0;
          start = end;
        }
        state = to;
      } else {
        this.deliver(to as Tok, chunk, start, end);
        start = end;
        state = to === Tok.Error ? S_RECOVERY : S_START;
      }
      // a byte not consumed is looked at again in the new state
      if (!consumed) continue;
      i++;
      if (this.length + (i - start) > MAX_TOKEN_SIZE) {
        // the token is reported as too big, and lexing starts afresh after it
        this.deliver(Tok.Oversize, chunk, start, i);
        state = S_START;
        start = i;
      }
    }
    if (state === S_START || state === S_RECOVERY) this.length = 0;
    else this.keep(chunk, start, n);
    this.state = state;
  }

  /** End of input: a pending token ends here, as if a NUL byte had been looked at. */
  flush(): void {
    if (this.state === S_RECOVERY) this.length = 0;
    else if (this.state !== S_START) this.deliver((TABLE[this.state * 256]! & ~LOOKAHEAD) as Tok, this.token, 0, 0);
    this.state = S_START;
  }

  /** Hands on the token made of the kept bytes and `chunk[start, end)`. */
  private deliver(type: Tok, chunk: Uint8Array, start: number, end: number): void {
    if (this.length === 0 && chunk !== this.token) {
      this.sink(type, chunk, start, end);
      return;
    }
    this.keep(chunk, start, end);
    const length = this.length;
    this.length = 0;
    this.sink(type, this.token, 0, length);
    if (this.token.length > TOKEN_BUFFER_KEEP) this.token = Buffer.allocUnsafe(64);
  }

  /** Appends `chunk[from, to)` to the kept bytes. */
  private keep(chunk: Uint8Array, from: number, to: number): void {
    const need = this.length + (to - from);
    if (need > this.token.length) {
      let size = this.token.length * 2;
      while (size < need) size *= 2;
      const bigger = Buffer.allocUnsafe(size);
      this.token.copy(bigger, 0, 0, this.length);
      this.token = bigger;
    }
    this.token.set(chunk.subarray(from, to), this.length);
    this.length = need;
  }
}
