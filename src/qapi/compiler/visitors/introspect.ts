/**
 * query-qmp-schema data, derived as QEMU 7.2's scripts/qapi/introspect.py
 * does: commands and events in visiting order, then every type they use in
 * first-reference order (a growing work queue); non-builtin type names are
 * masked as numbers in order of first reference; integer builtins collapse
 * to `int`; optional members carry `"default": null`. Entities disabled by
 * `if` are walked (they take numbers, as in QEMU) but left out of the result.
 */
import type { ArrayType, Member, ObjectType, QType, Schema } from '../model.js';
import { jsonTypeOf } from '../model.js';

export type IntrospectionEntry = Record<string, unknown>;

export function buildIntrospection(schema: Schema): IntrospectionEntry[] {
  const masks = new Map<string, string>();
  const used: QType[] = [];
  const usedNames = new Set<string>();
  const out: IntrospectionEntry[] = [];
  const intType = schema.types.get('int')!;
  const intList: ArrayType = (schema.types.get('intList') as ArrayType | undefined) ?? { kind: 'array', on: true, name: 'intList', element: intType };
  const emit = (on: boolean, entry: IntrospectionEntry): void => {
    if (on) out.push(entry);
  };

  const mask = (name: string): string => {
    let m = masks.get(name);
    if (m === undefined) {
      m = String(masks.size);
      masks.set(name, m);
    }
    return m;
  };

  const use = (t: QType): string => {
    let typ = t;
    if (typ.kind === 'builtin' && typ.jsonType === 'int') typ = intType;
    else if (typ.kind === 'array' && jsonTypeOf(typ.element) === 'int' && typ.element.kind === 'builtin') typ = intList;
    if (!usedNames.has(typ.name)) {
      usedNames.add(typ.name);
      used.push(typ);
    }
    if (typ.kind === 'builtin') return typ.name;
    if (typ.kind === 'array') return `[${use(typ.element)}]`;
    return mask(typ.name);
  };

  const withFeatures = (obj: IntrospectionEntry, features: string[]): IntrospectionEntry => {
    if (features.length > 0) obj.features = [...features];
    return obj;
  };

  const member = (m: Member): IntrospectionEntry | undefined => {
    const obj: IntrospectionEntry = { name: m.name, type: use(m.type) };
    if (m.optional) obj.default = null;
    return m.on ? withFeatures(obj, m.features) : undefined;
  };

  for (const e of schema.entities) {
    const argType = e.argType ?? schema.emptyObject;
    if (e.kind === 'command') {
      const obj: IntrospectionEntry = { name: e.name, 'meta-type': 'command', 'arg-type': use(argType), 'ret-type': use(e.retType ?? schema.emptyObject) };
      if (e.allowOob) obj['allow-oob'] = true;
      emit(e.on, withFeatures(obj, e.features));
    } else {
      emit(e.on, withFeatures({ name: e.name, 'meta-type': 'event', 'arg-type': use(argType) }, e.features));
    }
  }

  // `used` grows while it is walked: that is the breadth-first order QEMU emits.
  for (let i = 0; i < used.length; i++) {
    const t = used[i]!;
    switch (t.kind) {
      case 'builtin':
        out.push({ name: t.name, 'meta-type': 'builtin', 'json-type': t.jsonType });
        break;
      case 'enum':
        emit(t.on, withFeatures({
          name: mask(t.name),
          'meta-type': 'enum',
          members: t.values.filter((v) => v.on).map((v) => withFeatures({ name: v.name }, v.features)),
          values: t.values.filter((v) => v.on).map((v) => v.name),
        }, t.features));
        break;
      case 'array': {
        const element = use(t.element);
        out.push({ name: `[${element}]`, 'meta-type': 'array', 'element-type': element });
        break;
      }
      case 'object':
        emit(t.on, objectEntry(t, mask, member, use, withFeatures));
        break;
      case 'alternate':
        emit(t.on, withFeatures({
          name: mask(t.name),
          'meta-type': 'alternate',
          members: t.branches.map((b) => ({ on: b.on, entry: { type: use(b.type) } })).filter((b) => b.on).map((b) => b.entry),
        }, t.features));
        break;
    }
  }
  return out;
}

function objectEntry(
  t: ObjectType,
  mask: (n: string) => string,
  member: (m: Member) => IntrospectionEntry | undefined,
  use: (t: QType) => string,
  withFeatures: (o: IntrospectionEntry, f: string[]) => IntrospectionEntry,
): IntrospectionEntry {
  const members = t.members.map(member).filter((m) => m !== undefined);
  const obj: IntrospectionEntry = { name: mask(t.name), 'meta-type': 'object', members };
  if (t.variants) {
    obj.tag = t.variants.tag.name;
    const cases = t.variants.cases.map((c) => ({ on: c.on, entry: { case: c.name, type: use(c.type) } }));
    obj.variants = cases.filter((c) => c.on).map((c) => c.entry);
  }
  return withFeatures(obj, t.features);
}
