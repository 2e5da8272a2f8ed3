/**
 * Writes generated/tables.ts: every enabled type as a compact entry, indexed
 * by number, plus the command and event lists in visiting order. The runtime
 * validator and the keyval visitor walk these.
 */
import type { ObjectType, QType, Schema } from '../model.js';

export function buildTables(schema: Schema, header: string): string {
  const ids = new Map<string, number>();
  const queue: QType[] = [];
  const id = (t: QType): number => {
    let n = ids.get(t.name);
    if (n === undefined) {
      n = queue.length;
      ids.set(t.name, n);
      queue.push(t);
    }
    return n;
  };
  for (const t of schema.types.values()) if (t.kind === 'builtin') id(t);
  for (const t of schema.definedTypes) if (t.on) id(t);
  const argId = (t: ObjectType | undefined): number => (t ? id(t) : -1);
  const commands = schema.entities
    .filter((e) => e.kind === 'command' && e.on)
    .map((c) => {
      const parts = [`n: ${JSON.stringify(c.name)}`, `a: ${argId(c.argType)}`];
      if (c.kind === 'command' && c.allowOob) parts.push('oob: true');
      if (c.features.length) parts.push(`f: ${JSON.stringify(c.features)}`);
      return `  { ${parts.join(', ')} },`;
    });
  const events = schema.entities
    .filter((e) => e.kind === 'event' && e.on)
    .map((e) => {
      const parts = [`n: ${JSON.stringify(e.name)}`, `a: ${argId(e.argType)}`];
      if (e.features.length) parts.push(`f: ${JSON.stringify(e.features)}`);
      return `  { ${parts.join(', ')} },`;
    });

  const lines: string[] = [];
  // The queue grows while entries reference array and implicit types.
  for (let i = 0; i < queue.length; i++) lines.push(`  /* ${i} */ ${entry(queue[i]!, id)},`);
  return [
    header,
    "import type { CommandEntry, EventEntry, TypeEntry } from '../table-format.js';",
    '',
    'export const TYPES: readonly TypeEntry[] = [',
    ...lines,
    '];',
    '',
    'export const COMMANDS: readonly CommandEntry[] = [',
    ...commands,
    '];',
    '',
    'export const EVENTS: readonly EventEntry[] = [',
    ...events,
    '];',
    '',
  ].join('\n');
}

function entry(t: QType, id: (t: QType) => number): string {
  const n = `n: ${JSON.stringify(t.name)}`;
  switch (t.kind) {
    case 'builtin':
      return `{ k: 'builtin', ${n} }`;
    case 'enum':
      return `{ k: 'enum', ${n}, v: ${JSON.stringify(t.values.filter((v) => v.on).map((v) => v.name))} }`;
    case 'array':
      return `{ k: 'array', ${n}, e: ${id(t.element)} }`;
    case 'alternate':
      return `{ k: 'alternate', ${n}, a: [${t.branches.filter((b) => b.on).map((b) => id(b.type)).join(', ')}] }`;
    case 'object': {
      const members = t.members
        .filter((m) => m.on)
        .map((m) => `[${JSON.stringify(m.name)}, ${id(m.type)}${m.optional ? ', 1' : ''}]`);
      let s = `{ k: 'object', ${n}, m: [${members.join(', ')}]`;
      if (t.variants) {
        const cases = t.variants.cases.filter((c) => c.on).map((c) => `${JSON.stringify(c.name)}: ${id(c.type)}`);
        s += `, tag: ${JSON.stringify(t.variants.tag.name)}, v: { ${cases.join(', ')} }`;
      }
      return `${s} }`;
    }
  }
}
