import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeJson, encodeMessage, encodeString, formatDouble } from '../../../src/qmp/json/encode.js';
import { qdictOrder } from '../../../src/qmp/qdict-order.js';
import { QDouble } from '../../../src/qmp/json/value.js';

describe('encodeMessage', () => {
  it('prints doubles as printf %.17g does', () => {
    expect(formatDouble(1.5)).toBe('1.5');
    expect(formatDouble(0.1)).toBe('0.10000000000000001');
    expect(formatDouble(1e20)).toBe('1e+20');
    expect(formatDouble(1e-5)).toBe('1.0000000000000001e-05');
    expect(formatDouble(-0)).toBe('-0');
    expect(formatDouble(Infinity)).toBe('inf');
    expect(formatDouble(123456789012345678901234567890)).toBe('1.2345678901234568e+29');
    expect(formatDouble(5e-324)).toBe('4.9406564584124654e-324');
    expect(formatDouble(7500)).toBe('7500');
  });

  it('escapes everything outside printable ASCII in upper-case hex', () => {
    expect(encodeMessage({ id: 'é\x7f\u00ff😀 x"\\\n\x01' })).toBe(
      '{"id": "\\u00E9\\u007F\\u00FF\\uD83D\\uDE00 x\\"\\\\\\n\\u0001"}\r\n',
    );
  });

  it('pretty-prints with four spaces and CR LF, empty containers on two lines', () => {
    expect(encodeMessage({ return: {}, id: [1, [], new QDouble(2.5)] }, true)).toBe(
      '{\r\n    "return": {\r\n    },\r\n    "id": [\r\n        1,\r\n        [\r\n        ],\r\n        2.5\r\n    ]\r\n}\r\n',
    );
  });

  it('orders each key set by itself, also where one set is a prefix of another', () => {
    const keys = ['alpha', 'beta', 'gamma', 'delta'];
    const text = (o: Record<string, unknown>) => encodeJson(o);
    const expectOrder = (present: string[]) =>
      '{' + qdictOrder(present).map((k) => `"${k}": 1`).join(', ') + '}';
    for (let n = 0; n <= keys.length; n++) {
      const o: Record<string, unknown> = {};
      for (const k of keys.slice(0, n)) o[k] = 1;
      expect(text(o)).toBe(expectOrder(keys.slice(0, n)));
    }
    // undefined members are absent, and do not make another key set
    expect(text({ alpha: 1, beta: undefined, gamma: 1 })).toBe(expectOrder(['alpha', 'gamma']));
  });

  it('writes integers as their decimal digits, -0 as 0, beyond 2^53 as String() does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 })), (n) => {
        expect(encodeJson(n)).toBe(String(n));
      }),
    );
    expect(encodeJson([0, -0, 9, 10, 99, 100, 2 ** 53 - 1, 2 ** 53, 2 ** 62])).toBe(
      `[0, 0, 9, 10, 99, 100, 9007199254740991, 9007199254740992, ${String(2 ** 62)}]`,
    );
  });

  it('writes any value as JSON that parses back to it, large answers included', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary-ascii' }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const once = encodeJson(v);
        expect(JSON.parse(once)).toEqual(v); // 'binary' strings: any code point, no lone surrogates
        expect(encodeJson(v)).toBe(once); // the shared writer leaves nothing behind
      }),
      { numRuns: 300 },
    );
    const big = Array.from({ length: 20000 }, (_, i) => ({ 'node-name': `n${i}`, file: 'json:{"driver": "null-co"}' }));
    const text = encodeMessage({ return: big });
    expect(text.length).toBeGreaterThan(1024 * 1024);
    expect((JSON.parse(text) as { return: unknown[] }).return).toEqual(big);
    expect(encodeMessage({ return: {} })).toBe('{"return": {}}\r\n');
  });

  it('writes byte for byte what a plain string-building writer would', () => {
    // the reference: QEMU's rules spelled out with strings, no buffers or caches
    const reference = (v: unknown): string => {
      if (typeof v === 'string') return encodeString(v);
      // integers of int64's range as digits, other numbers as %.17g
      if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? String(v === 0 ? 0 : v) : formatDouble(v);
      if (typeof v === 'boolean' || v === null) return String(v);
      if (v === undefined) return 'null';
      if (Array.isArray(v)) return `[${v.map(reference).join(', ')}]`;
      const obj = v as Record<string, unknown>;
      const keys = qdictOrder(Object.keys(obj).filter((k) => obj[k] !== undefined));
      return `{${keys.map((k) => `${encodeString(k)}: ${reference(obj[k])}`).join(', ')}}`;
    };
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
        fc.integer(),
        fc.maxSafeNat(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.constantFrom('file', 'node-name', 'ro', 'a', 'b', 'cache', 'x y', 'é'), tie('node'), { maxKeys: 5 }),
      ),
    })).node;
    fc.assert(
      fc.property(fc.array(value, { maxLength: 30 }), (v) => {
        expect(encodeJson(v)).toBe(reference(v));
      }),
      { numRuns: 500 },
    );
  });
});
