/**
 * Command-line option strings as QSD takes them (--blockdev, --export,
 * --nbd-server, --object, --monitor): `key=value,...` parsed like QEMU's
 * util/keyval.c into a tree of strings (implied first key, `,,` for a comma,
 * dotted keys nest, numeric fragments make lists), then visited against a
 * QAPI type (keyval-visitor.ts). Text starting with `{` is JSON instead and
 * is validated exactly like QMP input.
 */
import { QmpError } from '../qmp/error.js';
import { isDict, type QDict, type QValue } from '../qmp/json/value.js';
import { JsonStreamer } from '../qmp/json/streamer.js';
import { qdictOrder } from '../qmp/qdict-order.js';
import { visitKeyval } from './keyval-visitor.js';
import { typeNodes, type ObjectNode } from './type-nodes.js';
import { InputWalker } from './validate.js';

/** key_in_cur[128] in keyval.c: longer key fragments are refused. */
export const MAX_KEY_FRAGMENT = 127;
/** Indexes clamp here (keyval.c uses INT_MAX). */
const INT_MAX = 2147483647;

/** A parsed option tree: strings at the leaves, dicts, and lists made from numeric keys. */
export type KvValue = string | KvDict | KvValue[];
export interface KvDict {
  [key: string]: KvValue;
}

const newKv = (): KvDict => Object.create(null) as KvDict;
const fail = (text: string): QmpError => QmpError.generic(text);

/** Length of the QAPI name at the start of `s` (parse_qapi_name, not complete), or 0. */
function qapiNameLength(s: string, from: number): number {
  let p = from;
  if (s[p] === '_') {
    p++;
    if (s[p] !== '_') return 0;
    p++;
    while (p < s.length && /[A-Za-z0-9.-]/.test(s[p]!)) p++;
    if (s[p] !== '_') return 0;
    p++;
  }
  if (!/[A-Za-z]/.test(s[p] ?? '')) return 0;
  p++;
  while (p < s.length && /[A-Za-z0-9_-]/.test(s[p]!)) p++;
  return p - from;
}

/** Length of a decimal index fragment at `from`, or -1 (key_to_index needs a leading digit). */
function indexLength(s: string, from: number): number {
  let p = from;
  while (p < s.length && s[p]! >= '0' && s[p]! <= '9') p++;
  return p === from ? -1 : p - from;
}

function keyIndex(key: string): number {
  if (!/^[0-9]+$/.test(key)) return -1;
  const n = Number(key);
  return n > INT_MAX ? INT_MAX : n;
}

function put(cur: KvDict, keyInCur: string, value: string | undefined, shownKey: string): KvDict | undefined {
  const old = cur[keyInCur];
  if (old !== undefined) {
    if (typeof old === 'string' ? value === undefined : value !== undefined) {
      throw fail(`Parameters '${shownKey}.*' used inconsistently`);
    }
    if (value === undefined) return old as KvDict;
  }
  if (value !== undefined) {
    cur[keyInCur] = value;
    return undefined;
  }
  const d = newKv();
  cur[keyInCur] = d;
  return d;
}

/** keyval_parse_one(): one `key=value` (or the implied value); returns where the next one starts. */
function parseOne(root: KvDict, params: string, pos: number, impliedKey: string | undefined, help: { seen: boolean }): number {
  let key = params;
  let keyStart = pos;
  let len = 0;
  while (pos + len < params.length && params[pos + len] !== '=' && params[pos + len] !== ',') len++;
  let valEnd = -1;
  if (len > 0 && params[pos + len] !== '=') {
    const word = params.slice(pos, pos + len);
    if (word === 'help' || word === '?') {
      help.seen = true;
      const next = pos + len;
      return params[next] === ',' ? next + 1 : next;
    }
    if (impliedKey !== undefined) {
      key = impliedKey;
      keyStart = 0;
      valEnd = pos + len;
      len = impliedKey.length;
    }
  }
  const keyEnd = keyStart + len;
  const shown = (end: number): string => key.slice(keyStart, end);
  let cur = root;
  let s = keyStart;
  let keyInCur = '';
  for (;;) {
    let flen = s !== keyStart ? indexLength(key, s) : -1;
    if (flen < 0) flen = qapiNameLength(key, s);
    if (flen === 0 || (s + flen < keyEnd && key[s + flen] !== '.')) throw fail(`Invalid parameter '${shown(keyEnd)}'`);
    if (flen > MAX_KEY_FRAGMENT) {
      const fragment = s !== keyStart || s + flen !== keyEnd ? ' fragment' : '';
      throw fail(`Parameter${fragment} '${key.slice(s, s + flen)}' is too long`);
    }
    if (s !== keyStart) cur = put(cur, keyInCur, undefined, shown(s - 1))!;
    keyInCur = key.slice(s, s + flen);
    s += flen;
    if (key[s] !== '.' || s >= keyEnd) break;
    s++;
  }
  let value: string;
  let next: number;
  if (valEnd >= 0) {
    value = params.slice(pos, valEnd);
    next = params[valEnd] === ',' ? valEnd + 1 : valEnd;
  } else {
    if (params[s] !== '=') throw fail(`Expected '=' after parameter '${shown(s)}'`);
    let p = s + 1;
    value = '';
    while (p < params.length) {
      if (params[p] === ',') {
        p++;
        if (params[p] !== ',') break;
      }
      value += params[p++];
    }
    next = p;
  }
  put(cur, keyInCur, value, shown(keyEnd));
  return next;
}

function reassemble(path: readonly string[]): string {
  return path.map((k) => `${k}.`).join('');
}

/** keyval_listify(): dicts whose keys are all indexes become lists; mixed keys are an error. */
function listify(cur: KvDict, path: string[]): KvValue {
  let hasIndex = false;
  let hasMember = false;
  // QEMU walks QDicts in their hash order; that decides which error comes first.
  const keys = qdictOrder(Object.keys(cur));
  for (const k of keys) {
    if (keyIndex(k) >= 0) hasIndex = true;
    else hasMember = true;
    const v = cur[k]!;
    if (typeof v !== 'string' && !Array.isArray(v)) cur[k] = listify(v, [...path, k]);
  }
  if (hasIndex && hasMember) throw fail(`Parameters '${reassemble(path)}*' used inconsistently`);
  if (!hasIndex) return cur;
  const nelt = keys.length + 1;
  const elt: (KvValue | undefined)[] = new Array<KvValue | undefined>(nelt).fill(undefined);
  let maxIndex = -1;
  for (const k of keys) {
    const index = keyIndex(k);
    if (index > maxIndex) maxIndex = index;
    if (index >= nelt - 1) continue;
    elt[index] = cur[k];
  }
  const list: KvValue[] = [];
  for (let i = 0; i < Math.min(nelt, maxIndex + 1); i++) {
    const v = elt[i];
    if (v === undefined) throw fail(`Parameter '${reassemble(path)}${i}' missing`);
    list.push(v);
  }
  return list;
}

/** keyval_parse() without help support: help requests are errors, as for QSD's options. */
export function parseKeyval(text: string, impliedKey?: string): KvDict {
  const root = newKv();
  const help = { seen: false };
  let pos = 0;
  let implied = impliedKey;
  while (pos < text.length) {
    pos = parseOne(root, text, pos, implied, help);
    implied = undefined;
  }
  if (help.seen) throw fail('Help is not available for this option');
  return listify(root, []) as KvDict;
}

/** qobject_from_json(): exactly one JSON value. */
function parseJsonOption(text: string): QValue {
  const values: (QValue | QmpError)[] = [];
  const streamer = new JsonStreamer((m) => values.push(m));
  streamer.feed(Buffer.from(text, 'utf8'));
  streamer.end();
  const first = values[0];
  if (first instanceof QmpError) throw first;
  const second = values[1];
  if (second !== undefined) throw second instanceof QmpError ? second : fail('Expecting at most one JSON value');
  if (first === undefined) throw fail('JSON parse error, premature EOI');
  return first;
}

function objectType(typeName: string): ObjectNode {
  const node = typeNodes().byName.get(typeName);
  if (!node || node.kind !== 'object') throw new Error(`QAPI type ${typeName} is not an object type`);
  return node;
}

/**
 * QSD's option parsing (qobject_input_visitor_new_str + visit_type_T): returns
 * the option as QMP input of `typeName` would look, or throws QmpError with
 * the text QSD prints after `qemu-storage-daemon: --opt <text>: `.
 */
export function parseOptionArgument(typeName: string, text: string, impliedKey?: string): QDict {
  const node = objectType(typeName);
  if (text.startsWith('{')) {
    const value = parseJsonOption(text);
    if (!isDict(value)) throw fail('JSON parse error, expecting value');
    new InputWalker(value).visitArguments(node);
    return value;
  }
  return visitKeyval(node, parseKeyval(text, impliedKey));
}
