/**
 * Builds the model from checked definitions: resolves `if` against the build
 * configuration, creates implicit and array types, resolves references and
 * runs the whole-schema checks (unknown types, clashes, unions, alternates).
 */
import { evalCond, QSD_DEBIAN_CONFIG } from './config.js';
import type { BranchDef, Definition, FeatureDef, MemberDef, TypeRefDef, UnionDef } from './defs.js';
import { checkExpression } from './expr.js';
import {
  jsonTypeOf,
  type AlternateType,
  type BuiltinType,
  type Command,
  type Event,
  type JsonType,
  type Member,
  type ObjectType,
  type QType,
  type Schema,
} from './model.js';
import { parseSchema, type Pragmas } from './parser.js';
import { QapiSchemaError, type SourceInfo } from './source.js';

const BUILTINS: [string, JsonType][] = [
  ['str', 'string'], ['number', 'number'], ['int', 'int'], ['int8', 'int'], ['int16', 'int'],
  ['int32', 'int'], ['int64', 'int'], ['uint8', 'int'], ['uint16', 'int'], ['uint32', 'int'],
  ['uint64', 'int'], ['size', 'int'], ['bool', 'boolean'], ['null', 'null'], ['any', 'value'],
];
const QTYPE_VALUES = ['none', 'qnull', 'qnum', 'qstring', 'qdict', 'qlist', 'qbool'];

function fail(info: SourceInfo | undefined, msg: string): never {
  throw new QapiSchemaError(info, msg);
}

/** '-' and '_' are the same character in generated C names, so they clash. */
const cname = (s: string): string => s.replace(/-/g, '_');

class Builder {
  private readonly types = new Map<string, QType>();
  private readonly defs = new Map<string, Definition>();
  private readonly resolving = new Set<string>();
  private readonly done = new Set<string>();
  readonly emptyObject: ObjectType;

  constructor(
    private readonly pragmas: Pragmas,
    private readonly config: ReadonlySet<string>,
  ) {
    for (const [name, jsonType] of BUILTINS) this.types.set(name, { kind: 'builtin', on: true, name, jsonType } satisfies BuiltinType);
    this.types.set('QType', { kind: 'enum', on: true, name: 'QType', values: QTYPE_VALUES.map((name) => ({ name, on: true, features: [] })), features: [] });
    this.emptyObject = this.newObject('q_empty', true, true);
  }

  private on = (c: Parameters<typeof evalCond>[0]): boolean => evalCond(c, this.config);

  private features(list: FeatureDef[]): string[] {
    return list.filter((f) => this.on(f.ifcond)).map((f) => f.name);
  }

  private newObject(name: string, implicit: boolean, on: boolean, info?: SourceInfo, features: string[] = []): ObjectType {
    const t: ObjectType = { kind: 'object', on, name, implicit, info, features, local: [], members: [] };
    this.types.set(name, t);
    return t;
  }

  /** Pass 1: register every enabled definition's name so references can resolve. */
  declare(defs: Definition[]): void {
    for (const d of defs) {
      const prev = this.defs.get(d.name);
      if (prev || this.types.has(d.name)) {
        fail(d.info, `${d.meta} '${d.name}' is already defined${prev ? ` at ${prev.info.file}:${prev.info.line}` : ' as a built-in'}`);
      }
      this.defs.set(d.name, d);
    }
    for (const d of defs) {
      const on = this.on(d.ifcond);
      const features = this.features(d.features);
      switch (d.meta) {
        case 'enum': {
          const seen = new Set<string>();
          for (const v of d.values) {
            if (seen.has(cname(v.name))) fail(d.info, `value '${v.name}' of enum '${d.name}' clashes with another value`);
            seen.add(cname(v.name));
          }
          this.types.set(d.name, {
            kind: 'enum', on, name: d.name, info: d.info, features,
            values: d.values.map((v) => ({ name: v.name, on: this.on(v.ifcond), features: this.features(v.features) })),
          });
          break;
        }
        case 'struct':
        case 'union':
          this.newObject(d.name, false, on, d.info, features);
          break;
        case 'alternate':
          this.types.set(d.name, { kind: 'alternate', on, name: d.name, info: d.info, features, branches: [] } satisfies AlternateType);
          break;
      }
    }
  }

  private lookup(ref: TypeRefDef, info: SourceInfo, what: string): QType {
    const elem = this.types.get(ref.name);
    if (!elem || (elem.kind === 'object' && elem.implicit)) fail(info, `${what} uses unknown type '${ref.name}'`);
    if (!ref.array) return elem;
    const name = `${ref.name}List`;
    let arr = this.types.get(name);
    if (!arr) {
      arr = { kind: 'array', on: true, name, element: elem };
      this.types.set(name, arr);
    }
    return arr;
  }

  private members(defs: MemberDef[], owner: string): Member[] {
    return defs.map((m) => ({
        on: this.on(m.ifcond),
        name: m.name,
        optional: m.optional,
        type: this.lookup(m.type, m.info, `member '${m.name}' of '${owner}'`),
        features: this.features(m.features),
      }));
  }

  private objectDef(name: string, info: SourceInfo, what: string): ObjectType {
    const t = this.types.get(name);
    if (!t) fail(info, `${what} uses unknown type '${name}'`);
    if (t.kind !== 'object') fail(info, `${what} requires an object type, not ${t.kind} '${name}'`);
    this.complete(t);
    return t;
  }

  /** Fills in a struct or union (and first its base), detecting base cycles. */
  complete(t: ObjectType): void {
    if (this.done.has(t.name) || t.implicit) return;
    const d = this.defs.get(t.name);
    if (!d || (d.meta !== 'struct' && d.meta !== 'union')) return;
    if (this.resolving.has(t.name)) fail(d.info, `object '${t.name}' contains itself`);
    this.resolving.add(t.name);
    if (d.meta === 'struct') {
      if (d.base !== undefined) {
        const base = this.objectDef(d.base, d.info, `'base' of struct '${d.name}'`);
        if (base.variants) fail(d.info, `'base' of struct '${d.name}' requires a struct type, union '${d.base}' isn't`);
        t.base = base;
      }
      t.local = this.members(d.data, d.name);
    } else {
      this.union(t, d);
    }
    t.members = [...(t.base?.members ?? []), ...t.local];
    checkClashes(t.members, d.info, t.name);
    this.resolving.delete(t.name);
    this.done.add(t.name);
  }

  private union(t: ObjectType, d: UnionDef): void {
    if (typeof d.base === 'string') {
      t.base = this.objectDef(d.base, d.info, `'base' of union '${d.name}'`);
      if (t.base.variants) fail(d.info, `'base' of union '${d.name}' requires a struct type`);
    } else {
      const base = this.newObject(`q_obj_${d.name}-base`, true, true, d.info);
      base.local = this.members(d.base, d.name);
      base.members = base.local;
      t.base = base;
    }
    const tag = t.base.members.find((m) => m.name === d.discriminator);
    if (!tag) fail(d.info, `discriminator '${d.discriminator}' is not a member of 'base'`);
    if (tag.optional) fail(d.info, `discriminator member '${d.discriminator}' of 'base' must not be optional`);
    if (tag.type.kind !== 'enum') fail(d.info, `discriminator member '${d.discriminator}' of 'base' must be of enum type`);
    const tagMember = typeof d.base === 'string' ? undefined : d.base.find((m) => m.name === d.discriminator);
    if (tagMember?.ifcond !== undefined) fail(d.info, `discriminator member '${d.discriminator}' of 'base' must not be conditional`);
    const values = new Set(tag.type.values.map((v) => v.name));
    const cases = [];
    for (const b of d.branches) {
      if (!values.has(b.name)) fail(b.info, `branch '${b.name}' is not a value of ${tag.type.name}`);
      const bt = this.objectDef(b.type.name, b.info, `branch '${b.name}' of union '${d.name}'`);
      checkClashes([...t.base.members, ...bt.members], b.info, `${d.name} (branch '${b.name}')`);
      cases.push({ name: b.name, on: this.on(b.ifcond), type: bt });
    }
    // Enum values without a branch get an empty one, appended in enum order (QEMU 7.2 does so too).
    const named = new Set(cases.map((c) => c.name));
    for (const v of tag.type.values) {
      if (!named.has(v.name)) cases.push({ name: v.name, on: v.on, type: this.emptyObject });
    }
    t.variants = { tag, cases };
  }

  alternate(t: AlternateType, branches: BranchDef[], info: SourceInfo): void {
    const seen = new Map<string, string>();
    for (const b of branches) {
      const bt = this.lookup(b.type, b.info, `branch '${b.name}' of alternate '${t.name}'`);
      if (bt.kind === 'alternate' || bt.kind === 'array') fail(b.info, `branch '${b.name}' of alternate '${t.name}' cannot use ${bt.kind} type '${bt.name}'`);
      // One branch per JSON type; int and number are both JSON numbers.
      let key: string = jsonTypeOf(bt);
      if (key === 'int') key = 'number';
      if (key === 'value') fail(b.info, `branch '${b.name}' of alternate '${t.name}' cannot use type 'any'`);
      const prev = seen.get(key);
      if (prev) fail(b.info, `branch '${b.name}' of alternate '${t.name}' can't be distinguished from '${prev}'`);
      seen.set(key, b.name);
      if (bt.kind === 'object') this.complete(bt);
      t.branches.push({ name: b.name, on: this.on(b.ifcond), type: bt });
    }
    if (t.branches.length === 0) fail(info, `alternate '${t.name}' has no branches`);
  }

  argType(owner: string, data: string | MemberDef[] | undefined, boxed: boolean, info: SourceInfo, what: string): ObjectType | undefined {
    if (data === undefined) return undefined;
    if (typeof data === 'string') {
      const t = this.objectDef(data, info, `'data' of ${what} '${owner}'`);
      if (t.variants && !boxed) fail(info, `'data' of ${what} '${owner}' cannot name union type '${data}' without 'boxed': true`);
      return t;
    }
    const members = this.members(data, owner);
    // QEMU makes no implicit type for empty inline data: such commands take no arguments.
    if (members.length === 0) return undefined;
    const t = this.newObject(`q_obj_${owner}-arg`, true, true, info);
    t.local = members;
    t.members = members;
    checkClashes(members, info, owner);
    return t;
  }

  returns(cmd: string, ref: TypeRefDef | undefined, info: SourceInfo): QType | undefined {
    if (!ref) return undefined;
    const t = this.lookup(ref, info, `'returns' of command '${cmd}'`);
    const inner = t.kind === 'array' ? t.element : t;
    if (inner.kind !== 'object' && !this.pragmas.commandReturnsExceptions.has(cmd)) {
      fail(info, `'returns' of command '${cmd}' cannot take ${inner.kind} type '${inner.name}'`);
    }
    return t;
  }

  get allTypes(): ReadonlyMap<string, QType> {
    return this.types;
  }
}

function checkClashes(members: Member[], info: SourceInfo | undefined, owner: string): void {
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(cname(m.name))) fail(info, `member '${m.name}' of '${owner}' collides with another member`);
    seen.add(cname(m.name));
  }
}

export function buildSchema(mainFile: string, config: ReadonlySet<string> = QSD_DEBIAN_CONFIG, displayRoot?: string): Schema {
  const parsed = parseSchema(mainFile, displayRoot);
  const defs = parsed.exprs.map((e) => checkExpression(e, parsed.pragmas));
  const b = new Builder(parsed.pragmas, config);
  b.declare(defs);
  const types = b.allTypes;
  const definedTypes: QType[] = [];
  const entities: (Command | Event)[] = [];
  for (const d of defs) {
    const on = evalCond(d.ifcond, config);
    const features = d.features.filter((f) => evalCond(f.ifcond, config)).map((f) => f.name);
    switch (d.meta) {
      case 'struct':
      case 'union': {
        const t = types.get(d.name) as ObjectType;
        b.complete(t);
        definedTypes.push(t);
        break;
      }
      case 'alternate': {
        const t = types.get(d.name) as AlternateType;
        b.alternate(t, d.branches, d.info);
        definedTypes.push(t);
        break;
      }
      case 'enum':
        definedTypes.push(types.get(d.name)!);
        break;
      case 'command':
        entities.push({
          kind: 'command', on, name: d.name, module: d.module, info: d.info, features, boxed: d.boxed, allowOob: d.allowOob,
          argType: b.argType(d.name, d.data, d.boxed, d.info, 'command'),
          retType: b.returns(d.name, d.returns, d.info),
        });
        break;
      case 'event':
        entities.push({
          kind: 'event', on, name: d.name, module: d.module, info: d.info, features, boxed: d.boxed,
          argType: b.argType(d.name, d.data, d.boxed, d.info, 'event'),
        });
        break;
    }
  }
  // QEMU visits entities module by module, modules in first-include order.
  const rank = new Map(parsed.modules.map((m, i) => [m, i]));
  const ordered = entities
    .map((e, i) => ({ e, i }))
    .sort((x, y) => rank.get(x.e.module)! - rank.get(y.e.module)! || x.i - y.i)
    .map((x) => x.e);
  return { types, definedTypes, entities: ordered, emptyObject: b.emptyObject };
}
