/**
 * TypeScript for the schema: generated/types.ts (every enabled named type),
 * generated/commands.ts (QmpCommandMap) and generated/events.ts (QmpEventMap).
 * Integer widths follow what the JSON parser produces: int8..uint32 fit a
 * number, 64-bit integers may arrive as bigint, `number` may be a QDouble.
 */
import type { Member, ObjectType, QType, Schema } from '../model.js';

const BUILTIN_TS: Record<string, string> = {
  str: 'string',
  bool: 'boolean',
  null: 'null',
  any: 'QValue',
  number: 'number | QDouble',
  int8: 'number',
  int16: 'number',
  int32: 'number',
  uint8: 'number',
  uint16: 'number',
  uint32: 'number',
  int: 'number | bigint',
  int64: 'number | bigint',
  uint64: 'number | bigint',
  size: 'number | bigint',
};

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (name: string): string => (IDENT.test(name) ? name : `'${name}'`);

/** Type expression for a reference to `t`. */
function ref(t: QType): string {
  switch (t.kind) {
    case 'builtin':
      return BUILTIN_TS[t.name]!;
    case 'array': {
      const inner = ref(t.element);
      return inner.includes(' ') ? `(${inner})[]` : `${inner}[]`;
    }
    default:
      return t.name;
  }
}

function membersLiteral(members: Member[], indent: string): string {
  const on = members.filter((m) => m.on);
  if (on.length === 0) return 'Record<string, never>';
  const lines = on.map((m) => `${indent}  ${key(m.name)}${m.optional ? '?' : ''}: ${ref(m.type)};`);
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function objectDecl(t: ObjectType): string {
  if (!t.variants) {
    const local = t.local.filter((m) => m.on);
    const ext = t.base ? ` extends ${t.base.name}` : '';
    if (local.length === 0) return `export interface ${t.name}${ext} {}`;
    return `export interface ${t.name}${ext} ${membersLiteral(local, '')}`;
  }
  const base = t.base && !t.base.implicit ? t.base.name : membersLiteral(t.members, '');
  const tag = key(t.variants.tag.name);
  const groups = new Map<string, { type: ObjectType; cases: string[] }>();
  for (const c of t.variants.cases) {
    if (!c.on || c.type.kind !== 'object') continue;
    const g = groups.get(c.type.name) ?? { type: c.type, cases: [] };
    g.cases.push(`'${c.name}'`);
    groups.set(c.type.name, g);
  }
  const branches = [...groups.values()].map((g) => {
    const sel = `{ ${tag}: ${g.cases.join(' | ')} }`;
    return g.type.implicit ? `  | ${sel}` : `  | (${sel} & ${g.type.name})`;
  });
  return `export type ${t.name} = ${base} & (\n${branches.join('\n')}\n);`;
}

function decl(t: QType): string | undefined {
  switch (t.kind) {
    case 'enum': {
      const values = t.values.filter((v) => v.on).map((v) => `'${v.name}'`);
      return `export type ${t.name} = ${values.join(' | ') || 'never'};`;
    }
    case 'alternate':
      return `export type ${t.name} = ${t.branches.filter((b) => b.on).map((b) => ref(b.type)).join(' | ')};`;
    case 'object':
      return objectDecl(t);
    default:
      return undefined;
  }
}

export function buildTsTypes(schema: Schema, header: string): string {
  const out = [header, "import type { QDouble, QValue } from '../../qmp/json/value.js';", ''];
  for (const t of schema.definedTypes) {
    if (!t.on) continue;
    const d = decl(t);
    if (d) out.push(d, '');
  }
  // QType is predefined by the language rather than declared in a file.
  out.push(decl(schema.types.get('QType')!)!, '');
  return out.join('\n');
}

function argsType(t: ObjectType | undefined): string {
  if (!t) return 'Record<string, never>';
  return t.implicit ? membersLiteral(t.members, '    ') : t.name;
}

function namesUsed(text: string, schema: Schema): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\b[A-Z][A-Za-z0-9]*\b/g)) {
    const t = schema.types.get(m[0]);
    if (t && t.kind !== 'builtin' && !(t.kind === 'object' && t.implicit)) names.add(m[0]);
  }
  return [...names].sort();
}

function importLine(body: string, schema: Schema): string[] {
  const names = namesUsed(body, schema);
  const lines: string[] = [];
  if (names.length) lines.push(`import type {\n${names.map((n) => `  ${n},`).join('\n')}\n} from './types.js';`);
  if (/\bQValue\b|\bQDouble\b/.test(body)) {
    const q = ['QDouble', 'QValue'].filter((n) => new RegExp(`\\b${n}\\b`).test(body));
    lines.push(`import type { ${q.join(', ')} } from '../../qmp/json/value.js';`);
  }
  return lines;
}

export function buildTsCommands(schema: Schema, header: string): string {
  const body: string[] = ['export interface QmpCommandMap {'];
  for (const c of schema.entities) {
    if (c.kind !== 'command' || !c.on) continue;
    // Results are only read by the encoder, so handlers may return readonly arrays.
    const ret = c.retType ? (c.retType.kind === 'array' ? `readonly ${ref(c.retType)}` : ref(c.retType)) : 'void';
    body.push(`  ${key(c.name)}: {\n    args: ${argsType(c.argType)};\n    ret: ${ret};\n  };`);
  }
  body.push('}', '');
  const text = body.join('\n');
  return [header, ...importLine(text, schema), '', text].join('\n');
}

export function buildTsEvents(schema: Schema, header: string): string {
  const body: string[] = ['export interface QmpEventMap {'];
  for (const e of schema.entities) {
    if (e.kind !== 'event' || !e.on) continue;
    body.push(`  ${key(e.name)}: ${argsType(e.argType).replaceAll('\n    ', '\n  ').replace(/\n {4}\}$/, '\n  }')};`);
  }
  body.push('}', '');
  const text = body.join('\n');
  return [header, ...importLine(text, schema), '', text].join('\n');
}
