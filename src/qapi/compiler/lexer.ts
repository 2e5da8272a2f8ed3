/**
 * Tokens of the QAPI schema language: a JSON dialect with single-quoted
 * strings, `#` comments and only the literals true/false (QEMU's
 * scripts/qapi/parser.py accepts the same).
 */
import { QapiSchemaError, type SourceInfo } from './source.js';

export const enum T {
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Str,
  True,
  False,
  Eof,
}

export interface Token {
  readonly type: T;
  readonly value: string;
  readonly line: number;
}

/** Longest string literal we accept; schema strings are names and short conditions. */
export const MAX_STRING_LENGTH = 4096;

const PUNCT: Record<string, T> = { '{': T.LBrace, '}': T.RBrace, '[': T.LBracket, ']': T.RBracket, ',': T.Comma, ':': T.Colon };

export class Lexer {
  private pos = 0;
  private line = 1;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private info(line = this.line): SourceInfo {
    return { file: this.file, line };
  }

  next(): Token {
    const s = this.text;
    for (;;) {
      if (this.pos >= s.length) return { type: T.Eof, value: '', line: this.line };
      const ch = s[this.pos]!;
      if (ch === '\n') {
        this.line++;
        this.pos++;
      } else if (ch === ' ' || ch === '\t' || ch === '\r') {
        this.pos++;
      } else if (ch === '#') {
        const end = s.indexOf('\n', this.pos);
        this.pos = end < 0 ? s.length : end;
      } else if (PUNCT[ch] !== undefined) {
        this.pos++;
        return { type: PUNCT[ch]!, value: ch, line: this.line };
      } else if (ch === "'") {
        return this.string();
      } else if (s.startsWith('true', this.pos)) {
        this.pos += 4;
        return { type: T.True, value: 'true', line: this.line };
      } else if (s.startsWith('false', this.pos)) {
        this.pos += 5;
        return { type: T.False, value: 'false', line: this.line };
      } else {
        throw new QapiSchemaError(this.info(), `stray '${ch}'`);
      }
    }
  }

  private string(): Token {
    const start = this.line;
    let out = '';
    this.pos++;
    for (;;) {
      const ch = this.text[this.pos++];
      if (ch === undefined || ch === '\n') throw new QapiSchemaError(this.info(start), 'missing terminating "\'"');
      if (ch === "'") break;
      if (ch === '\\') {
        const esc = this.text[this.pos++];
        if (esc !== '\\' && esc !== "'" && esc !== '/') {
          throw new QapiSchemaError(this.info(), `unknown escape \\${esc ?? ''}`);
        }
        out += esc;
      } else {
        const code = ch.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) throw new QapiSchemaError(this.info(), 'funny character in string');
        out += ch;
      }
      if (out.length > MAX_STRING_LENGTH) throw new QapiSchemaError(this.info(start), 'string too long');
    }
    return { type: T.Str, value: out, line: start };
  }
}
