/**
 * The C library number parsing that QEMU's keyval visitor relies on
 * (strtoll/strtoull with base 0, qemu_strtosz, strtod), restated for
 * strings: what they accept and what they return, so `size=0x10`,
 * `latency-ns=-1` or `size=1.5k` mean here what they mean to QSD.
 */

const UINT64_MOD = 1n << 64n;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = UINT64_MOD - 1n;

const SPACE = /^[ \t\n\v\f\r]*/;

interface Parsed {
  /** Magnitude with the sign applied, before any range clamp. */
  readonly value: bigint;
  /** Index just after the last character used. */
  readonly end: number;
}

/** strtoll/strtoull's grammar: spaces, sign, 0x/0 prefixes for base 0. Undefined when no digits. */
function parseCInteger(s: string, base: 0 | 10 | 16): Parsed | undefined {
  let i = SPACE.exec(s)![0].length;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let b: number = base;
  const hexPrefix = (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? ''));
  if ((b === 0 || b === 16) && hexPrefix) {
    b = 16;
    i += 2;
  } else if (b === 0) {
    b = s[i] === '0' ? 8 : 10;
  }
  const start = i;
  let v = 0n;
  const big = BigInt(b);
  for (; i < s.length; i++) {
    const d = parseInt(s[i]!, 36);
    if (Number.isNaN(d) || d >= b) break;
    v = v * big + BigInt(d);
  }
  if (i === start) return undefined;
  return { value: neg ? -v : v, end: i };
}

/** qemu_strtoi64(s, NULL, 0): the whole string must be one in-range integer. */
export function strtoi64(s: string): bigint | undefined {
  const p = parseCInteger(s, 0);
  if (!p || p.end !== s.length || p.value > INT64_MAX || p.value < INT64_MIN) return undefined;
  return p.value;
}

/** qemu_strtou64(s, end?, base): strtoull semantics, so "-1" wraps to 2^64-1. */
function strtou64Partial(s: string, base: 0 | 10 | 16): Parsed | undefined {
  const p = parseCInteger(s, base);
  if (!p) return undefined;
  const mag = p.value < 0n ? -p.value : p.value;
  if (mag > UINT64_MAX) return undefined;
  return { value: p.value < 0n ? (UINT64_MOD + p.value) % UINT64_MOD : p.value, end: p.end };
}

export function strtou64(s: string): bigint | undefined {
  const p = strtou64Partial(s, 0);
  return p && p.end === s.length ? p.value : undefined;
}

const FLOAT_PREFIX = /^[ \t\n\v\f\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

/** strtod's decimal prefix of `s`, or undefined (hex floats and inf/nan are not needed here). */
function strtodPartial(s: string): { value: number; end: number } | undefined {
  const m = FLOAT_PREFIX.exec(s);
  if (!m) return undefined;
  return { value: Number(m[0].trim()), end: m[0].length };
}

/** qemu_strtod_finite(s, NULL): the whole string, finite. */
export function strtodFinite(s: string): number | undefined {
  const p = strtodPartial(s);
  if (!p || p.end !== s.length || !Number.isFinite(p.value)) return undefined;
  return p.value;
}

const SUFFIX_POWER: Record<string, number> = { B: 0, K: 1, M: 2, G: 3, T: 4, P: 5, E: 6 };

/** qemu_strtosz(s, NULL): decimal or hex, optional fraction, optional k/M/G/T/P/E suffix (1024-based). */
export function strtosz(s: string): bigint | undefined {
  const ip = strtou64Partial(s, 10);
  if (!ip || s.slice(0, ip.end).includes('-')) return undefined;
  let val = ip.value;
  let end = ip.end;
  let valf = 0n;
  if (val === 0n && (s[end] === 'x' || s[end] === 'X')) {
    const hp = strtou64Partial(s, 16);
    if (!hp || s[hp.end] === '.') return undefined;
    val = hp.value;
    end = hp.end;
  } else if (s[end] === '.') {
    const fp = strtodPartial(s.slice(end));
    if (!fp) {
      end++; // "1.k": a bare point still takes a suffix
    } else {
      const text = s.slice(end, end + fp.end);
      if (/[eE]/.test(text) || !Number.isFinite(fp.value)) return undefined;
      end += fp.end;
      valf = BigInt(Math.floor(fp.value * 2 ** 64));
    }
  }
  const power = SUFFIX_POWER[(s[end] ?? '').toUpperCase()];
  let mul = 1n;
  if (power !== undefined && s[end] !== undefined) {
    mul = 1024n ** BigInt(power);
    end++;
  }
  if (end !== s.length) return undefined;
  if (mul === 1n) return valf !== 0n ? undefined : val;
  // 64.64 fixed point times the multiplier, rounding half up, as QEMU computes it.
  const prod = (val << 64n) + valf;
  const scaled = prod * mul;
  const result = (scaled >> 64n) + ((scaled >> 63n) & 1n);
  return result > UINT64_MAX ? undefined : result;
}
