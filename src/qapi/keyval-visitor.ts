/**
 * QEMU's keyval input visitor: walks a parsed option tree (strings, dicts,
 * lists) against a QAPI type in schema order, converts strings to the
 * member types and builds the value QMP input would have. Errors are
 * QEMU 7.2's texts; list elements are named `.N` here, not `[N]`.
 */
import { QmpError } from '../qmp/error.js';
import { newDict, type QDict, type QValue } from '../qmp/json/value.js';
import { strtodFinite, strtoi64, strtosz, strtou64 } from './c-numbers.js';
import { firstUnexpectedKey } from './ghash-order.js';
import type { KvDict, KvValue } from './keyval.js';
import type { AlternateNode, ObjectNode, TypeNode } from './type-nodes.js';
import { argErrors } from './arg-errors.js';
import { InputStack, type Frame } from './input-stack.js';

const TRUE_WORDS = new Set(['on', 'yes', 'true', 'y']);
const FALSE_WORDS = new Set(['off', 'no', 'false', 'n']);

const isKvDict = (v: KvValue | undefined): v is KvDict => typeof v === 'object' && !Array.isArray(v);

/** Integers as the JSON parser would give them: numbers when exact, bigints beyond 2^53. */
function toQInt(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

class KeyvalWalker extends InputStack<KvValue> {
  /** full_name_nth() in keyval mode: list elements are `.N`. */
  protected listElement(index: number): string {
    return `.${index}`;
  }

  /** qobject_input_get_keyval(): a scalar must be a string here. */
  private scalar(name: string | null): string {
    const v = this.get(name);
    if (typeof v !== 'string') throw QmpError.generic(`Parameters '${this.fullName(name)}.*' are unexpected`);
    return v;
  }

  visit(node: TypeNode, name: string | null): QValue {
    switch (node.kind) {
      case 'object':
        return this.struct(node, name);
      case 'array':
        return this.array(node.element, name);
      case 'alternate':
        return this.alternate(node, name);
      case 'enum': {
        const v = this.scalar(name);
        if (!node.values.has(v)) throw argErrors.badEnumValue(name ?? 'null', v);
        return v;
      }
      case 'str':
        return this.scalar(name);
      case 'bool': {
        const v = this.scalar(name);
        if (TRUE_WORDS.has(v)) return true;
        if (FALSE_WORDS.has(v)) return false;
        throw argErrors.expects(this.fullName(name), "'on' or 'off'");
      }
      case 'null':
        this.get(name);
        throw argErrors.invalidType(this.fullName(name), 'null');
      case 'any':
        return this.get(name) as QValue;
      case 'number': {
        const n = strtodFinite(this.scalar(name));
        if (n === undefined) throw argErrors.invalidType(this.fullName(name), 'number');
        return n;
      }
      case 'int64':
      case 'intN': {
        const n = strtoi64(this.scalar(name));
        if (n === undefined) throw argErrors.expects(this.fullName(name), 'integer');
        if (node.range && (n < node.range.min || n > node.range.max)) throw argErrors.expects(name ?? 'null', node.range.cType);
        return toQInt(n);
      }
      case 'uint64':
      case 'uintN': {
        const n = strtou64(this.scalar(name));
        if (n === undefined) throw argErrors.expects(this.fullName(name), 'integer');
        if (node.range && n > node.range.max) throw argErrors.expects(name ?? 'null', node.range.cType);
        return toQInt(n);
      }
      case 'size': {
        const n = strtosz(this.scalar(name));
        if (n === undefined) throw argErrors.expects(this.fullName(name), 'size');
        return toQInt(n);
      }
    }
  }

  struct(node: ObjectNode, name: string | null): QDict {
    const v = this.get(name);
    if (!isKvDict(v)) throw argErrors.invalidType(this.fullName(name), 'object');
    const frame: Frame<KvValue> = { name, dict: v, consumed: new Set(), index: 0 };
    this.stack.push(frame);
    const out = newDict();
    this.members(node, v, out);
    const keys = Object.keys(v);
    if (keys.length !== frame.consumed!.size) {
      throw argErrors.unexpected(this.fullName(firstUnexpectedKey(keys, frame.consumed!)));
    }
    this.stack.pop();
    return out;
  }

  private members(node: ObjectNode, dict: KvDict, out: QDict): void {
    for (const m of node.members) {
      if (m.optional && !Object.hasOwn(dict, m.name)) continue;
      out[m.name] = this.visit(m.type, m.name);
    }
    if (node.variants) {
      const branch = node.variants.get(out[node.tag!] as string);
      if (branch) this.members(branch, dict, out);
    }
  }

  private array(element: TypeNode, name: string | null): QValue[] {
    const v = this.get(name);
    if (!Array.isArray(v)) throw argErrors.invalidType(this.fullName(name), 'array');
    this.stack.push({ name, list: v, index: -1 });
    const out = v.map(() => this.visit(element, null));
    this.stack.pop();
    return out;
  }

  private alternate(node: AlternateNode, name: string | null): QValue {
    const v = this.get(name, false);
    // Option strings only hold strings, dicts and lists: the JSON type picks the branch.
    let branch: TypeNode | undefined;
    if (typeof v === 'string') branch = node.string;
    else if (!Array.isArray(v)) branch = node.dict;
    if (!branch) throw argErrors.invalidType(name ?? 'null', node.name);
    return this.visit(branch, name);
  }
}

/** Visits a parsed option tree as `node` (the whole option is the object). */
export function visitKeyval(node: ObjectNode, tree: KvDict): QDict {
  return new KeyvalWalker(tree).struct(node, null);
}
