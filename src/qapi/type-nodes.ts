/**
 * The generated type tables turned into linked nodes once at startup, so the
 * validators follow object references instead of indexes and look members,
 * enum values and union branches up in Maps.
 */
import { TYPES } from './generated/tables.js';
import type { TypeEntry } from './table-format.js';

export interface IntRange {
  readonly min: bigint;
  readonly max: bigint;
  /** The C type QEMU names in range errors (`int32_t`). */
  readonly cType: string;
}

export type ScalarKind = 'str' | 'number' | 'bool' | 'null' | 'any' | 'int64' | 'uint64' | 'size' | 'intN' | 'uintN';

export interface ScalarNode {
  readonly kind: ScalarKind;
  readonly name: string;
  readonly range?: IntRange;
}

export interface EnumNode {
  readonly kind: 'enum';
  readonly name: string;
  readonly values: ReadonlySet<string>;
}

export interface ArrayNode {
  readonly kind: 'array';
  readonly name: string;
  element: TypeNode;
}

export interface MemberNode {
  readonly name: string;
  readonly optional: boolean;
  type: TypeNode;
}

export interface ObjectNode {
  readonly kind: 'object';
  readonly name: string;
  members: MemberNode[];
  memberNames: ReadonlySet<string>;
  /** Members without which the object is invalid: the fast path for `{}`. */
  required: number;
  tag?: string;
  variants?: Map<string, ObjectNode>;
}

/** One branch per JSON type, as QEMU's generated alternate visitors switch on QType. */
export interface AlternateNode {
  readonly kind: 'alternate';
  readonly name: string;
  dict?: ObjectNode;
  string?: TypeNode;
  number?: TypeNode;
  bool?: TypeNode;
  null?: TypeNode;
}

export type TypeNode = ScalarNode | EnumNode | ArrayNode | ObjectNode | AlternateNode;

const RANGES: Record<string, IntRange> = {
  int8: { min: -128n, max: 127n, cType: 'int8_t' },
  int16: { min: -32768n, max: 32767n, cType: 'int16_t' },
  int32: { min: -2147483648n, max: 2147483647n, cType: 'int32_t' },
  uint8: { min: 0n, max: 255n, cType: 'uint8_t' },
  uint16: { min: 0n, max: 65535n, cType: 'uint16_t' },
  uint32: { min: 0n, max: 4294967295n, cType: 'uint32_t' },
};

function scalar(name: string): ScalarNode {
  switch (name) {
    case 'str':
    case 'number':
    case 'bool':
    case 'null':
    case 'any':
    case 'uint64':
    case 'size':
      return { kind: name, name };
    case 'int':
    case 'int64':
      return { kind: 'int64', name };
    default: {
      const range = RANGES[name];
      if (!range) throw new Error(`unknown builtin type ${name}`);
      return { kind: name.startsWith('u') ? 'uintN' : 'intN', name, range };
    }
  }
}

function shell(e: TypeEntry): TypeNode {
  switch (e.k) {
    case 'builtin':
      return scalar(e.n);
    case 'enum':
      return { kind: 'enum', name: e.n, values: new Set(e.v) };
    case 'array':
      return { kind: 'array', name: e.n, element: undefined as unknown as TypeNode };
    case 'object':
      return { kind: 'object', name: e.n, members: [], memberNames: new Set(), required: 0 };
    case 'alternate':
      return { kind: 'alternate', name: e.n };
  }
}

function link(node: TypeNode, e: TypeEntry, nodes: TypeNode[]): void {
  if (node.kind === 'array' && e.k === 'array') {
    node.element = nodes[e.e]!;
  } else if (node.kind === 'object' && e.k === 'object') {
    node.members = e.m.map(([name, t, opt]) => ({ name, optional: opt === 1, type: nodes[t]! }));
    node.memberNames = new Set(node.members.map((m) => m.name));
    node.required = node.members.filter((m) => !m.optional).length;
    if (e.tag !== undefined && e.v) {
      node.tag = e.tag;
      node.variants = new Map(Object.entries(e.v).map(([c, t]) => [c, nodes[t] as ObjectNode]));
    }
  } else if (node.kind === 'alternate' && e.k === 'alternate') {
    for (const t of e.a) {
      const b = nodes[t]!;
      if (b.kind === 'object') node.dict = b;
      else if (b.kind === 'enum' || b.kind === 'str') node.string = b;
      else if (b.kind === 'bool') node.bool = b;
      else if (b.kind === 'null') node.null = b;
      else node.number = b;
    }
  }
}

export interface TypeNodes {
  readonly byIndex: readonly TypeNode[];
  /** Named types (structs, unions, enums, alternates) by QAPI name. */
  readonly byName: ReadonlyMap<string, TypeNode>;
}

let cached: TypeNodes | undefined;

export function typeNodes(): TypeNodes {
  if (cached) return cached;
  const nodes = TYPES.map(shell);
  TYPES.forEach((e, i) => link(nodes[i]!, e, nodes));
  cached = { byIndex: nodes, byName: new Map(nodes.map((n) => [n.name, n])) };
  return cached;
}
