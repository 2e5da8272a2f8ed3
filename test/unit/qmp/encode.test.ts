import { describe, expect, it } from 'vitest';
import { encodeMessage, formatDouble } from '../../../src/qmp/json/encode.js';
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
});
