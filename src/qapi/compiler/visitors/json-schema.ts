/**
 * JSON Schema (draft 2020-12, for ajv) of every command's arguments:
 * schema/qapi.schema.json holds one $defs entry per named type, and
 * schema/commands/<name>.json the arguments of one command. Unions are
 * discriminated `oneOf`s (OpenAPI's `discriminator` on the tag member) whose
 * branches list base and branch members together, each branch closed.
 * Integers beyond 2^53 and doubles arrive as bigint/QDouble objects, which
 * these schemas reject: the runtime walker decides those.
 */
import type { Member, ObjectType, QType, Schema } from '../model.js';

export const SCHEMA_BASE = 'https://qmpd.invalid/schema/';
const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const INT_RANGES: Record<string, [number, number] | undefined> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

function builtin(name: string): Json {
  switch (name) {
    case 'str':
      return { type: 'string' };
    case 'number':
      return { type: 'number' };
    case 'bool':
      return { type: 'boolean' };
    case 'null':
      return { type: 'null' };
    case 'any':
      return {};
    default: {
      // int, int64, uint64, size: negative values wrap for the unsigned ones, so no bounds here.
      const range = INT_RANGES[name];
      return range ? { type: 'integer', minimum: range[0], maximum: range[1] } : { type: 'integer' };
    }
  }
}

class Writer {
  readonly defs = new Map<string, Json>();
  private readonly pending: QType[] = [];

  ref(t: QType): Json {
    if (t.kind === 'builtin') return builtin(t.name);
    if (t.kind === 'array') return { type: 'array', items: this.ref(t.element) };
    if (!this.defs.has(t.name)) {
      this.defs.set(t.name, null);
      this.pending.push(t);
    }
    return { $ref: `#/$defs/${t.name}` };
  }

  drain(): void {
    while (this.pending.length > 0) {
      const t = this.pending.shift()!;
      this.defs.set(t.name, this.define(t));
    }
  }

  private properties(members: Member[]): { properties: Record<string, Json>; required: string[] } {
    const properties: Record<string, Json> = {};
    const required: string[] = [];
    for (const m of members) {
      if (!m.on) continue;
      properties[m.name] = this.ref(m.type);
      if (!m.optional) required.push(m.name);
    }
    return { properties, required };
  }

  object(t: ObjectType): { [k: string]: Json } {
    const { properties, required } = this.properties(t.members);
    if (!t.variants) {
      const out: { [k: string]: Json } = { type: 'object', properties };
      if (required.length) out.required = required;
      out.additionalProperties = false;
      return out;
    }
    return this.union(t, properties, required);
  }

  /**
   * A union as a discriminated oneOf: one closed branch (base and branch
   * members together) per branch type, each its own $defs entry. ajv then
   * picks the branch by the tag's value and validates only it, in a function
   * of its own, instead of trying every if/then and tracking evaluated members.
   */
  private union(t: ObjectType, baseProps: Record<string, Json>, baseRequired: string[]): { [k: string]: Json } {
    const variants = t.variants!;
    const tag = variants.tag.name;
    // Tag values sharing a branch type share one branch; values without members share the base-only one.
    const byType = new Map<string, { type: ObjectType | undefined; cases: string[] }>();
    for (const c of variants.cases) {
      if (!c.on) continue;
      const type = c.type.kind === 'object' && c.type.members.some((m) => m.on) ? c.type : undefined;
      if (type?.variants) throw new Error(`${t.name}: branch '${c.name}' is itself a union, which the JSON Schema writer does not nest`);
      const key = type?.name ?? '';
      const entry = byType.get(key) ?? { type, cases: [] };
      entry.cases.push(c.name);
      byType.set(key, entry);
    }
    const oneOf: Json[] = [];
    for (const [key, { type, cases }] of byType) {
      const branch = type ? this.properties(type.members) : { properties: {}, required: [] };
      const properties: Record<string, Json> = { ...baseProps, ...branch.properties };
      properties[tag] = cases.length === 1 ? { const: cases[0]! } : { enum: cases };
      const def: { [k: string]: Json } = { type: 'object', properties, required: [...baseRequired, ...branch.required], additionalProperties: false };
      // '.' is in no QAPI name, so a branch's name never meets a type's
      const name = `${t.name}.${key || 'base'}`;
      this.defs.set(name, def);
      oneOf.push({ $ref: `#/$defs/${name}` });
    }
    return { type: 'object', properties: { [tag]: baseProps[tag]! }, required: [tag], discriminator: { propertyName: tag }, oneOf };
  }

  private define(t: QType): Json {
    switch (t.kind) {
      case 'enum':
        return { type: 'string', enum: t.values.filter((v) => v.on).map((v) => v.name) };
      case 'alternate':
        return { anyOf: t.branches.filter((b) => b.on).map((b) => this.ref(b.type)) };
      case 'object':
        return this.object(t);
      default:
        return this.ref(t);
    }
  }
}

export interface JsonSchemaFiles {
  /** Relative path under schema/ → file text. */
  readonly files: Map<string, string>;
}

export function buildJsonSchema(schema: Schema, comment: string): JsonSchemaFiles {
  const w = new Writer();
  const files = new Map<string, string>();
  const commands: [string, Json][] = [];
  for (const c of schema.entities) {
    if (c.kind !== 'command' || !c.on) continue;
    let body: Json;
    if (!c.argType) body = { type: 'object', maxProperties: 0 };
    else if (c.argType.implicit) body = w.object(c.argType);
    else body = { $ref: `../qapi.schema.json#/$defs/${c.argType.name}` };
    if (c.argType && !c.argType.implicit) w.ref(c.argType);
    commands.push([c.name, body]);
  }
  w.drain();
  for (const [name, body] of commands) {
    // Implicit argument objects refer to the shared defs file.
    const text = JSON.stringify(body).replaceAll('"#/$defs/', '"../qapi.schema.json#/$defs/');
    const doc = { $schema: DRAFT, $id: `${SCHEMA_BASE}commands/${name}.json`, $comment: comment, ...(JSON.parse(text) as object) };
    files.set(`commands/${name}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  }
  const defs: Record<string, Json> = {};
  for (const name of [...w.defs.keys()].sort()) defs[name] = w.defs.get(name)!;
  const main = { $schema: DRAFT, $id: `${SCHEMA_BASE}qapi.schema.json`, $comment: comment, $defs: defs };
  files.set('qapi.schema.json', `${JSON.stringify(main, null, 2)}\n`);
  return { files };
}
