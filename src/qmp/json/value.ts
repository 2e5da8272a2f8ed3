/**
 * JSON values as QMP sees them. QEMU keeps integers exact (int64/uint64) and
 * tells doubles apart from integers by their lexical form, so `1.0` is not an
 * integer there; JS numbers cannot carry that, hence QDouble and bigint.
 */

/** A number that was written with a fraction or exponent, or that overflowed uint64/int64. */
export class QDouble {
  constructor(readonly value: number) {}
}

/** Parsed objects have a null prototype, so keys such as `__proto__` are plain data. */
export interface QDict {
  [key: string]: QValue;
}

/**
 * Integers in the safe range are plain numbers; other int64/uint64 integers are bigints.
 */
export type QValue = null | boolean | number | bigint | string | QDouble | QValue[] | QDict;

export function newDict(): QDict {
  return Object.create(null) as QDict;
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
