/**
 * JSON Schema (draft 2020-12, for ajv) of every command's arguments:
 * schema/qapi.schema.json holds one $defs entry per named type, and
 * schema/commands/<name>.json the arguments of one command. Unions put their
 * branches in `allOf`/`if`/`then` and close the object with
 * `unevaluatedProperties`, so base and branch members are allowed together.
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
    const out: { [k: string]: Json } = { type: 'object', properties };
    if (required.length) out.required = required;
    if (!t.variants) {
      out.additionalProperties = false;
      return out;
    }
    // Cases sharing a branch type share one if/then clause.
    const byType = new Map<string, { type: ObjectType; cases: string[] }>();
    for (const c of t.variants.cases) {
      if (!c.on || c.type.kind !== 'object' || c.type.members.every((m) => !m.on)) continue;
      const entry = byType.get(c.type.name) ?? { type: c.type, cases: [] };
      entry.cases.push(c.name);
      byType.set(c.type.name, entry);
    }
    const tag = t.variants.tag.name;
    const clauses: Json[] = [];
    for (const { type, cases } of byType.values()) {
      const branch = this.properties(type.members);
      const then: { [k: string]: Json } = { properties: branch.properties };
      if (branch.required.length) then.required = branch.required;
      const match: Json = cases.length === 1 ? { const: cases[0]! } : { enum: cases };
      clauses.push({ if: { properties: { [tag]: match }, required: [tag] }, then });
    }
    if (clauses.length) out.allOf = clauses;
    out.unevaluatedProperties = false;
    return out;
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
