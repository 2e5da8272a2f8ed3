/**
 * Recursive-descent JSON parser over the tokens of one message, with the
 * error texts of QEMU's qobject/json-parser.c (the first error wins).
 */
import { Tok } from './lexer.js';
import { newDict, QDouble, type QDict, type QValue } from './value.js';

export interface Token {
  type: Tok;
  /** ASCII text of number and keyword tokens */
  text: string;
  /** decoded value of a string token */
  value?: string;
  /** why a string token cannot be decoded; reported when the parser reaches it */
  error?: string;
}

export class JsonSyntaxError extends Error {}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export function parseTokens(tokens: Token[]): QValue {
  let pos = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(what);
  };
  const peek = (): Token => tokens[pos] ?? fail('premature EOI');
  const pop = (): Token => tokens[pos++] ?? fail('premature EOI');

  const parseValue = (): QValue => {
    const t = peek();
    switch (t.type) {
      case Tok.LCurly:
        return parseObject();
      case Tok.LSquare:
        return parseArray();
      case Tok.String:
      case Tok.Integer:
      case Tok.Float:
        pos++;
        return literal(t);
      case Tok.Keyword:
        pos++;
        if (t.text === 'true') return true;
        if (t.text === 'false') return false;
        if (t.text === 'null') return null;
        return fail(`invalid keyword '${t.text}'`);
      default:
        return fail('expecting value');
    }
  };

  const parsePair = (dict: QDict): void => {
    peek();
    const key = parseValue();
    if (typeof key !== 'string') fail('key is not a string in object');
    if (pop().type !== Tok.Colon) fail('missing : in object pair');
    const value = parseValue();
    if (Object.hasOwn(dict, key as string)) fail('duplicate key');
    dict[key as string] = value;
  };

  const parseObject = (): QDict => {
    pos++; // '{'
    const dict = newDict();
    if (peek().type === Tok.RCurly) {
      pos++;
      return dict;
    }
    parsePair(dict);
    for (let t = pop(); t.type !== Tok.RCurly; t = pop()) {
      if (t.type !== Tok.Comma) fail('expected separator in dict');
      parsePair(dict);
    }
    return dict;
  };

  const parseArray = (): QValue[] => {
    pos++; // '['
    const list: QValue[] = [];
    if (peek().type === Tok.RSquare) {
      pos++;
      return list;
    }
    list.push(parseValue());
    for (let t = pop(); t.type !== Tok.RSquare; t = pop()) {
      if (t.type !== Tok.Comma) fail('expected separator in list');
      list.push(parseValue());
    }
    return list;
  };

  return parseValue();
}

function literal(t: Token): QValue {
  if (t.type === Tok.String) {
    if (t.error !== undefined) throw new JsonSyntaxError(t.error);
    return t.value!;
  }
  if (t.type === Tok.Integer) return parseInteger(t.text);
  return new QDouble(Number(t.text));
}

/** int64 if it fits, else uint64 if it fits, else a double, as QEMU's parser does. */
export function parseInteger(text: string): QValue {
  if (text.length <= 15) {
    const n = Number(text);
    return n === 0 ? 0 : n; // "-0" is the integer 0
  }
  const big = BigInt(text);
  if (big >= INT64_MIN && big <= (text.startsWith('-') ? INT64_MAX : UINT64_MAX)) {
    const n = Number(big);
    return Number.isSafeInteger(n) ? n : big;
  }
  return new QDouble(Number(text));
}
