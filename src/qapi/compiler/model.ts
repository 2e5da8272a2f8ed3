/**
 * The schema model that the visitors walk: resolved types, commands, events.
 * Entities whose `if` is false in our build are kept with `on: false`: QEMU's
 * introspection numbers them too (the C preprocessor drops them afterwards),
 * so leaving them out would shift every masked name after them.
 */
import type { SourceInfo } from './source.js';

export type JsonType = 'string' | 'number' | 'int' | 'boolean' | 'null' | 'value' | 'object' | 'array';

export interface BuiltinType {
  readonly kind: 'builtin';
  readonly on: true;
  readonly name: string;
  readonly jsonType: JsonType;
}

export interface EnumValue {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly name: string;
  readonly features: string[];
}

export interface EnumType {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly kind: 'enum';
  readonly name: string;
  readonly values: EnumValue[];
  readonly features: string[];
  readonly info?: SourceInfo;
}

export interface ArrayType {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly kind: 'array';
  readonly name: string;
  readonly element: QType;
}

export interface Member {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly name: string;
  readonly type: QType;
  readonly optional: boolean;
  readonly features: string[];
}

export interface Variant {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly name: string;
  readonly type: QType;
}

export interface ObjectType {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly kind: 'object';
  readonly name: string;
  /** Inline argument/base types QEMU names q_obj_..., and q_empty. */
  readonly implicit: boolean;
  readonly info?: SourceInfo;
  features: string[];
  base?: ObjectType;
  /** Members declared here (not the base's). */
  local: Member[];
  /** Base members first, then local ones: the visiting order. */
  members: Member[];
  variants?: { tag: Member; cases: Variant[] };
}

export interface AlternateType {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly kind: 'alternate';
  readonly name: string;
  readonly info?: SourceInfo;
  features: string[];
  branches: Variant[];
}

export type QType = BuiltinType | EnumType | ArrayType | ObjectType | AlternateType;

export interface Command {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly kind: 'command';
  readonly name: string;
  readonly module: string;
  readonly info: SourceInfo;
  readonly features: string[];
  readonly argType?: ObjectType;
  readonly retType?: QType;
  readonly boxed: boolean;
  readonly allowOob: boolean;
}

export interface Event {
  /** The `if` condition holds in our build configuration. */
  readonly on: boolean;
  readonly kind: 'event';
  readonly name: string;
  readonly module: string;
  readonly info: SourceInfo;
  readonly features: string[];
  readonly argType?: ObjectType;
  readonly boxed: boolean;
}

export interface Schema {
  /** Every type by QAPI name: builtins, definitions, implicit and array types. */
  readonly types: ReadonlyMap<string, QType>;
  /** Named (non-implicit, non-array, non-builtin) types in definition order. */
  readonly definedTypes: readonly QType[];
  /** Commands and events in QEMU's visiting order (modules in first-include order). */
  readonly entities: readonly (Command | Event)[];
  readonly emptyObject: ObjectType;
}

/** What a value of this type looks like in JSON, for alternate dispatch and introspection. */
export function jsonTypeOf(t: QType): JsonType {
  switch (t.kind) {
    case 'builtin':
      return t.jsonType;
    case 'enum':
      return 'string';
    case 'array':
      return 'array';
    case 'object':
      return 'object';
    case 'alternate':
      return 'value';
  }
}
