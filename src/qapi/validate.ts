/**
 * QEMU's QObject input visitor, restated: walks arguments against a type in
 * schema member order and throws QEMU 7.2's text for the first error
 * (qapi-schema-language.md §5). Paths are built like full_name_nth(): `.`
 * between members, `[i]` for list elements; range, enum and alternate errors
 * use the bare member name (`null` for a list element), as QEMU does.
 */
import { isDict, QDouble, type QDict, type QValue } from '../qmp/json/value.js';
import { argErrors } from './arg-errors.js';
import { firstUnexpectedKey } from './ghash-order.js';
import { InputStack } from './input-stack.js';
import type { AlternateNode, ObjectNode, TypeNode } from './type-nodes.js';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;


/** Integer value of an integer-typed JSON number, or undefined for doubles and non-numbers. */
function intValue(v: QValue): bigint | undefined {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  return undefined;
}

export class InputWalker extends InputStack<QValue> {
  protected listElement(index: number): string {
    return `[${index}]`;
  }

  visit(node: TypeNode, name: string | null): void {
    switch (node.kind) {
      case 'object':
        return this.struct(node, name);
      case 'array':
        return this.array(node.element, name);
      case 'alternate':
        return this.alternate(node, name);
      case 'enum': {
        const v = this.get(name);
        if (typeof v !== 'string') throw argErrors.invalidType(this.fullName(name), 'string');
        if (!node.values.has(v)) throw argErrors.badEnumValue(name ?? 'null', v);
        return;
      }
      case 'str':
        if (typeof this.get(name) !== 'string') throw argErrors.invalidType(this.fullName(name), 'string');
        return;
      case 'bool':
        if (typeof this.get(name) !== 'boolean') throw argErrors.invalidType(this.fullName(name), 'boolean');
        return;
      case 'null':
        if (this.get(name) !== null) throw argErrors.invalidType(this.fullName(name), 'null');
        return;
      case 'any':
        this.get(name);
        return;
      case 'number': {
        const v = this.get(name);
        if (typeof v !== 'number' && typeof v !== 'bigint' && !(v instanceof QDouble)) {
          throw argErrors.invalidType(this.fullName(name), 'number');
        }
        return;
      }
      case 'int64':
      case 'intN': {
        const n = intValue(this.get(name));
        if (n === undefined || n < INT64_MIN || n > UINT64_MAX >> 1n) throw argErrors.invalidType(this.fullName(name), 'integer');
        if (node.range && (n < node.range.min || n > node.range.max)) throw argErrors.expects(name ?? 'null', node.range.cType);
        return;
      }
      case 'uint64':
      case 'size':
      case 'uintN': {
        let n = intValue(this.get(name));
        if (n === undefined) throw argErrors.expects(this.fullName(name), 'uint64');
        // Negative int64 values are accepted and wrap (QEMU's backward compatibility).
        if (n < 0n) n += UINT64_MAX + 1n;
        if (node.range && n > node.range.max) throw argErrors.expects(name ?? 'null', node.range.cType);
        return;
      }
    }
  }

  /** Top level: the arguments object itself (visit_start_struct with no name). */
  visitArguments(node: ObjectNode | undefined): void {
    this.startStruct(null);
    if (node) this.members(node);
    this.endStruct();
  }

  private startStruct(name: string | null): void {
    const v = this.get(name);
    if (!isDict(v)) throw argErrors.invalidType(this.fullName(name), 'object');
    this.stack.push({ name, dict: v, consumed: new Set(), index: 0 });
  }

  /** visit_check_struct() then pop: leftover keys are unexpected, in QEMU's hash-table order. */
  private endStruct(): void {
    const top = this.stack[this.stack.length - 1]!;
    const keys = Object.keys(top.dict!);
    if (keys.length !== top.consumed!.size) {
      const key = firstUnexpectedKey(keys, top.consumed!);
      throw argErrors.unexpected(this.fullName(key));
    }
    this.stack.pop();
  }

  private struct(node: ObjectNode, name: string | null): void {
    this.startStruct(name);
    this.members(node);
    this.endStruct();
  }

  private members(node: ObjectNode): void {
    const dict = this.stack[this.stack.length - 1]!.dict!;
    for (const m of node.members) {
      if (m.optional && !Object.hasOwn(dict, m.name)) continue;
      this.visit(m.type, m.name);
    }
    if (node.variants) {
      // The discriminator was visited with the base members, so it is a valid enum value here.
      const branch = node.variants.get(dict[node.tag!] as string);
      if (branch) this.members(branch);
    }
  }

  private array(element: TypeNode, name: string | null): void {
    const v = this.get(name);
    if (!Array.isArray(v)) throw argErrors.invalidType(this.fullName(name), 'array');
    this.stack.push({ name, list: v, index: -1 });
    for (let i = 0; i < v.length; i++) this.visit(element, null);
    this.stack.pop();
  }

  private alternate(node: AlternateNode, name: string | null): void {
    const v = this.get(name, false);
    let branch: TypeNode | undefined;
    if (isDict(v)) branch = node.dict;
    else if (typeof v === 'string') branch = node.string;
    else if (typeof v === 'boolean') branch = node.bool;
    else if (v === null) branch = node.null;
    else if (!Array.isArray(v)) branch = node.number;
    if (!branch) throw argErrors.invalidType(name ?? 'null', node.name);
    this.visit(branch, name);
  }
}

/** Throws QEMU's error for the first problem of `args` against `node` (no node: no arguments allowed). */
export function walkArguments(node: ObjectNode | undefined, args: QDict): void {
  new InputWalker(args).visitArguments(node);
}
