/**
 * JSON values as QMP sees them. QEMU keeps integers exact (int64/uint64) and
 * tells doubles apart from integers by their lexical form, so `1.0` is not an
 * integer there; JS numbers cannot carry that, hence QDouble and bigint.
 */

/** A number that was written with a fraction or exponent, or that overflowed uint64/int64. */
export class QDouble {
  constructor(readonly value: number) {}
}

/** Parsed objects inherit nothing, so keys such as `__proto__` are plain data. */
export interface QDict {
  [key: string]: QValue;
}

/**
 * Integers in the safe range are plain numbers; other int64/uint64 integers are bigints.
 */
export type QValue = null | boolean | number | bigint | string | QDouble | QValue[] | QDict;

/**
 * The prototype of every QDict: empty, itself without a prototype. An object
 * made with Object.create(null) starts in V8's slow dictionary mode; one made
 * from an empty object that inherits nothing is as safe and stays fast.
 */
const DICT_PROTOTYPE = Object.freeze(Object.create(null) as object);

export function newDict(): QDict {
  return Object.create(DICT_PROTOTYPE) as QDict;
}

export function isDict(v: unknown): v is QDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof QDouble);
}

/** JSON-type name as QEMU's QType would say it; used in error texts and alternates. */
export function qtypeOf(v: QValue): 'null' | 'bool' | 'int' | 'double' | 'string' | 'list' | 'dict' {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
  }
  if (v instanceof QDouble) return 'double';
  return Array.isArray(v) ? 'list' : 'dict';
}

/** Converts parsed values to plain JS (doubles to numbers); bigints stay bigints. */
export function toPlain(v: QValue): unknown {
  if (v instanceof QDouble) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (isDict(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = toPlain(v[k]!);
    return out;
  }
  return v;
}
