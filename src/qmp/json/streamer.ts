/**
 * JSON message streamer: bytes in, whole messages out. Counts braces and
 * brackets over the lexer's tokens and hands a message to the parser when
 * they balance, as QEMU's json-streamer.c does, with its limits.
 */
import { QmpError, protocolErrors } from '../error.js';
import { JsonLexer, MAX_TOKEN_SIZE, Tok } from './lexer.js';
import { JsonSyntaxError, parseTokens, type Token } from './parser.js';
import { asciiText, decodeStringToken } from './strings.js';
import { decodeLenient } from './utf8.js';
import type { QValue } from './value.js';

/** QEMU's MAX_TOKEN_COUNT: tokens of one message. */
export const MAX_TOKEN_COUNT = 2 * 1024 * 1024;
/** QEMU's MAX_NESTING: open `{` plus open `[`. */
export const MAX_NESTING = 1024;

export type MessageSink = (message: QValue | QmpError) => void;

export class JsonStreamer {
  private readonly lexer: JsonLexer;
  private tokens: Token[] = [];
  private tokenBytes = 0;
  private braces = 0;
  private brackets = 0;

  constructor(private readonly emit: MessageSink) {
    this.lexer = new JsonLexer((type, bytes, start, end) => this.onToken(type, bytes, start, end));
  }

  feed(chunk: Uint8Array): void {
    this.lexer.feed(chunk);
  }

  /** Input ended: an unfinished message is parsed as it stands (QEMU's flush). */
  end(): void {
    this.lexer.flush();
    if (this.tokens.length > 0) this.parseAndEmit();
  }

  /** Bytes held for incomplete input; bounded by the limits above. */
  get bufferedBytes(): number {
    return this.tokenBytes + this.lexer.bufferedBytes;
  }

  private onToken(type: Tok, bytes: Uint8Array, start: number, end: number): void {
    const length = end - start;
    switch (type) {
      case Tok.LCurly:
        this.braces++;
        break;
      case Tok.RCurly:
        this.braces--;
        break;
      case Tok.LSquare:
        this.brackets++;
        break;
      case Tok.RSquare:
        this.brackets--;
        break;
      case Tok.Error:
        return this.fail(protocolErrors.jsonParse(`stray '${decodeLenient(bytes, start, end)}'`));
    }
    if (this.tokenBytes + length + 1 > MAX_TOKEN_SIZE) return this.fail(protocolErrors.tokenTooBig());
    if (this.tokens.length + 1 > MAX_TOKEN_COUNT) return this.fail(protocolErrors.tooManyTokens());
    if (this.braces + this.brackets > MAX_NESTING) return this.fail(protocolErrors.nestingTooDeep());

    this.tokens.push(makeToken(type, bytes, start, end));
    this.tokenBytes += length;
    if ((this.braces > 0 || this.brackets > 0) && this.braces >= 0 && this.brackets >= 0) return;
    this.parseAndEmit();
  }

  private parseAndEmit(): void {
    const tokens = this.tokens;
    this.reset();
    let message: QValue | QmpError;
    try {
      message = parseTokens(tokens);
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err;
      message = protocolErrors.jsonParse(err.message);
    }
    this.emit(message);
  }

  private fail(error: QmpError): void {
    this.reset();
    this.emit(error);
  }

  private reset(): void {
    this.tokens = [];
    this.tokenBytes = 0;
    this.braces = 0;
    this.brackets = 0;
  }
}

/** Structural tokens carry nothing but their type: one shared object each. */
const STRUCTURAL: Partial<Record<Tok, Token>> = {
  [Tok.LCurly]: { type: Tok.LCurly, text: '' },
  [Tok.RCurly]: { type: Tok.RCurly, text: '' },
  [Tok.LSquare]: { type: Tok.LSquare, text: '' },
  [Tok.RSquare]: { type: Tok.RSquare, text: '' },
  [Tok.Colon]: { type: Tok.Colon, text: '' },
  [Tok.Comma]: { type: Tok.Comma, text: '' },
};

function makeToken(type: Tok, bytes: Uint8Array, start: number, end: number): Token {
  const structural = STRUCTURAL[type];
  if (structural) return structural;
  if (type === Tok.String) {
    const decoded = decodeStringToken(bytes, start, end);
    return decoded.error === undefined
      ? { type, text: '', value: decoded.value }
      : { type, text: '', error: decoded.error };
  }
  // number and keyword tokens are ASCII (the lexer takes nothing else into them)
  return { type, text: asciiText(bytes, start, end) };
}
