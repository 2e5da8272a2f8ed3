import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QmpError } from '../../../src/qmp/error.js';
import { encodeJson } from '../../../src/qmp/json/encode.js';
import { MAX_TOKEN_SIZE } from '../../../src/qmp/json/lexer.js';
import { JsonStreamer, MAX_NESTING } from '../../../src/qmp/json/streamer.js';
import { QDouble, type QValue } from '../../../src/qmp/json/value.js';

/** Feeds chunks and returns what came out: values as compact JSON, errors as their desc. */
function run(chunks: (string | Buffer)[], end = false): string[] {
  const out: string[] = [];
  const s = new JsonStreamer((m) => out.push(m instanceof QmpError ? `ERR ${m.desc}` : encodeJson(m)));
  for (const c of chunks) s.feed(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
  if (end) s.end();
  return out;
}

describe('JsonStreamer', () => {
  it('answers several messages in one write, in order', () => {
    expect(run(['{"a": 1}{"b": 2} [3]\n"x" 4 '])).toEqual(['{"a": 1}', '{"b": 2}', '[3]', '"x"', '4']);
  });

  it('assembles a message split across writes', () => {
    expect(run(['{"exec', 'ute": "query-', 'version", "id"', ': "split"}'])).toEqual(['{"execute": "query-version", "id": "split"}']);
  });

  it('accepts single-quoted strings and the \\\' escape', () => {
    expect(run(["{'a': 'it\\'s \"q\"'}"])).toEqual(['{"a": "it\'s \\"q\\""}']);
  });

  it('reports QEMU 7.2 texts for malformed input', () => {
    expect(run(['xyz\n'])).toEqual(["ERR JSON parse error, invalid keyword 'xyz'"]);
    expect(run(['{"execute": }'])).toEqual(['ERR JSON parse error, expecting value']);
    expect(run(['{"execute" "x"}'])).toEqual(['ERR JSON parse error, missing : in object pair']);
    expect(run(['{"a": 1,}'])).toEqual(['ERR JSON parse error, expecting value']);
    expect(run(['{"a": 1 "b": 2}'])).toEqual(['ERR JSON parse error, expected separator in dict']);
    expect(run(['[1 2]'])).toEqual(['ERR JSON parse error, expected separator in list']);
    expect(run(['{"a": 1, "a": 2}'])).toEqual(['ERR JSON parse error, duplicate key']);
    expect(run(['"\\x"'])).toEqual(['ERR JSON parse error, invalid escape sequence in string']);
    expect(run([Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])])).toEqual(['ERR JSON parse error, invalid UTF-8 sequence in string']);
    expect(run(['{1: 2}'])).toEqual(['ERR JSON parse error, key is not a string in object']);
  });

  it('reports each stray byte and resynchronises after it', () => {
    expect(run([Buffer.from([1, 2, 3])])).toEqual(["ERR JSON parse error, stray '\x01'", "ERR JSON parse error, stray '\x02'", "ERR JSON parse error, stray '\x03'"]);
    expect(run([Buffer.from([0xff]), '{"a": 1}'])).toEqual(["ERR JSON parse error, stray '\uFFFD'", '{"a": 1}']);
    // a bad number token swallows its first bad character, then the lone } is its own error
    expect(run(['{"id": 01}'])).toEqual(["ERR JSON parse error, stray '01'", 'ERR JSON parse error, expecting value']);
    expect(run(['{"id": -}', '{"b": 2}'])).toEqual(["ERR JSON parse error, stray '-}'", '{"b": 2}']);
    expect(run(['"a\tb"'])).toEqual(["ERR JSON parse error, stray '\"a\t'"]);
  });

  it('swallows complete commands while a brace is open', () => {
    expect(run(['{"a": {"b": 1} {"execute": "quit"}', '}'])).toEqual(['ERR JSON parse error, expected separator in dict']);
  });

  it('keeps integers exact: int64, uint64, beyond as doubles', () => {
    const values: QValue[] = [];
    const s = new JsonStreamer((m) => values.push(m as QValue));
    s.feed(Buffer.from('[9007199254740993, 18446744073709551615, 18446744073709551616, -9223372036854775808, -0, 1.0, 1e3]'));
    const list = values[0] as QValue[];
    expect(list[0]).toBe(9007199254740993n);
    expect(list[1]).toBe(18446744073709551615n);
    expect(list[2]).toBeInstanceOf(QDouble);
    expect(list[3]).toBe(-9223372036854775808n);
    expect(Object.is(list[4], 0)).toBe(true);
    expect(list[5]).toEqual(new QDouble(1));
    expect(list[6]).toEqual(new QDouble(1000));
  });

  it('limits nesting to 1024 levels like QEMU and recovers', () => {
    const ok = '{"a":' + '['.repeat(MAX_NESTING - 1) + ']'.repeat(MAX_NESTING - 1) + '}';
    expect(run([ok])).toHaveLength(1);
    const deep = '['.repeat(MAX_NESTING + 1) + ']'.repeat(MAX_NESTING + 1);
    const out = run([deep, '{"after": 1}']);
    expect(out[0]).toBe('ERR JSON nesting depth limit exceeded');
    expect(out.at(-1)).toBe('{"after": 1}');
  });

  it('reports premature EOI when input ends inside a value', () => {
    expect(run(['{"driver": "null-co"'], true)).toEqual(['ERR JSON parse error, premature EOI']);
  });

  it('gives the same messages however a valid stream is split (property)', () => {
    const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (values, cuts) => {
        const text = values.map((v) => JSON.stringify(v)).join(' \n') + '\n';
        const bytes = Buffer.from(text, 'utf8');
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(last, p));
          last = p;
        }
        chunks.push(bytes.subarray(last));
        expect(run(chunks)).toEqual(run([bytes]));
        expect(run([bytes])).toHaveLength(values.length);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same messages and errors for any input fed whole or byte by byte (property)', () => {
    // fed whole, tokens are views of the chunk; byte by byte, every token is assembled in the lexer's buffer
    const piece = fc.oneof(
      fc.constantFrom('{', '}', '[', ']', ':', ',', ' ', '\n', '\t', '"', "'", '\\', '\\u', '\\ud83d\\ude00', '\\x'),
      fc.constantFrom('"abc"', "'it''s'", '"\\u00e9\\n"', '"a\\"b"', '12', '-0', '1.5e3', '1e', '007', 'true', 'nul', 'null', 'xyz'),
      fc.constantFrom('@', '\x00', '\x1f', '\x7f'),
      fc.uint8Array({ maxLength: 3 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const bytes = Buffer.from(pieces.join(''), 'latin1');
        const whole = run([bytes], true);
        const single = run([...bytes].map((b) => Buffer.from([b])), true);
        expect(single).toEqual(whole);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on random bytes and never holds more than its limit (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const s = new JsonStreamer(() => {});
        for (const c of chunks) {
          s.feed(c);
          expect(s.bufferedBytes).toBeLessThanOrEqual(MAX_TOKEN_SIZE + 1);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('drops an oversized token with QEMU text and stays usable', () => {
    const out: string[] = [];
    const s = new JsonStreamer((m) => out.push(m instanceof QmpError ? m.desc : encodeJson(m)));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    s.feed(Buffer.from('"'));
    for (let i = 0; i <= MAX_TOKEN_SIZE / chunk.length; i++) s.feed(chunk);
    expect(s.bufferedBytes).toBeLessThanOrEqual(MAX_TOKEN_SIZE + chunk.length);
    expect(out[0]).toBe('JSON token size limit exceeded');
  });
});
