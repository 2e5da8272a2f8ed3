import { describe, expect, it } from 'vitest';
import { QmpError } from '../../../src/qmp/error.js';
import { parseKeyval, parseOptionArgument } from '../../../src/qapi/keyval.js';
import { strtosz } from '../../../src/qapi/c-numbers.js';
import { QSD_OPTION_ERRORS } from './fixtures/qsd-option-errors.js';

/** QSD's options: the QAPI type each one is visited as, and its implied first key. */
export const OPTION_TYPES: Record<string, [string, string | undefined]> = {
  '--blockdev': ['BlockdevOptions', 'driver'],
  '--export': ['BlockExportOptions', 'type'],
  '--nbd-server': ['NbdServerOptions', undefined],
  '--monitor': ['MonitorOptions', 'chardev'],
  '--object': ['ObjectOptions', 'qom-type'],
};

function optionError(opt: string, text: string): string {
  const [type, implied] = OPTION_TYPES[opt]!;
  try {
    parseOptionArgument(type, text, implied);
  } catch (err) {
    if (err instanceof QmpError) return err.desc;
    throw err;
  }
  return 'accepted';
}

describe('keyval parsing', () => {
  it('nests dotted keys, turns numeric keys into lists and unescapes ",,"', () => {
    expect(parseKeyval('raw,file.driver=file,file.filename=a,,b,x.0=p,x.1.y=q', 'driver')).toEqual({
      driver: 'raw',
      file: { driver: 'file', filename: 'a,b' },
      x: ['p', { y: 'q' }],
    });
  });

  it('applies the implied key only to a first parameter without "="', () => {
    expect(parseKeyval('nbd,id=e', 'type')).toEqual({ type: 'nbd', id: 'e' });
    expect(() => parseKeyval('id=e,nbd', 'type')).toThrow("Expected '=' after parameter 'nbd'");
  });

  it('lets a later value replace an earlier one', () => {
    expect(parseKeyval('a=1,a=2')).toEqual({ a: '2' });
  });

  it('refuses over-long key fragments', () => {
    expect(() => parseKeyval(`${'a'.repeat(128)}=1`)).toThrow(`Parameter '${'a'.repeat(128)}' is too long`);
    expect(() => parseKeyval(`x.${'b'.repeat(130)}=1`)).toThrow(`Parameter fragment '${'b'.repeat(130)}' is too long`);
  });
});

describe('typed option visiting', () => {
  it('gives --blockdev values the shape of QMP input', () => {
    expect(parseOptionArgument('BlockdevOptions', 'null-co,node-name=n,size=0x10,read-only=on,latency-ns=-1', 'driver')).toEqual({
      driver: 'null-co',
      'node-name': 'n',
      'read-only': true,
      size: 16,
      'latency-ns': 18446744073709551615n,
    });
  });

  it('reads --nbd-server in the flat address form', () => {
    expect(parseOptionArgument('NbdServerOptions', 'addr.type=unix,addr.path=/tmp/s,max-connections=4')).toEqual({
      addr: { type: 'unix', path: '/tmp/s' },
      'max-connections': 4,
    });
  });

  it('reads lists of structs from .N keys', () => {
    expect(parseOptionArgument('BlockExportOptions', 'nbd,id=e,node-name=n,bitmaps.0=b1,bitmaps.1.node=n,bitmaps.1.name=b2', 'type')).toEqual({
      type: 'nbd',
      id: 'e',
      'node-name': 'n',
      bitmaps: ['b1', { node: 'n', name: 'b2' }],
    });
  });

  it('takes JSON when the text starts with "{" and validates it as QMP input', () => {
    expect(parseOptionArgument('BlockdevOptions', '{"driver":"null-co","node-name":"x","size":1024}', 'driver')).toEqual({
      driver: 'null-co',
      'node-name': 'x',
      size: 1024,
    });
    expect(optionError('--blockdev', '{"driver":"null-co","size":"1k"}')).toBe("Invalid parameter type for 'size', expected: integer");
  });

  it.each(QSD_OPTION_ERRORS)('%s %s fails with QSD text', (opt, text, expected) => {
    expect(optionError(opt, text)).toBe(expected);
  });
});

describe('size suffixes (qemu_strtosz)', () => {
  it.each([
    ['0', 0n],
    ['1k', 1024n],
    ['1K', 1024n],
    ['1.5M', 1572864n],
    ['2G', 2n ** 31n],
    ['1E', 2n ** 60n],
    ['0x10', 16n],
    ['1.', 1n],
    ['1.k', 1024n],
    ['512B', 512n],
    ['15E', 15n * 2n ** 60n],
  ] as const)('%s is %s bytes', (text, want) => {
    expect(strtosz(text)).toBe(want);
  });

  it.each(['', '-1', '1.5', '1e3k', '16E', '1kB', 'k', '0x1.5k', ' 1x'])('%j is not a size', (text) => {
    expect(strtosz(text)).toBeUndefined();
  });
});
