/**
 * Checks the shape of each top-level expression (allowed keys, value types,
 * naming rules) and turns it into a Definition. Checks that need the whole
 * schema (unknown types, clashes) are in schema.ts.
 */
import type {
  BranchDef,
  Cond,
  Definition,
  EnumValueDef,
  FeatureDef,
  MemberDef,
  TypeRefDef,
} from './defs.js';
import type { ParsedExpr, Pragmas } from './parser.js';
import { isSObject, QapiSchemaError, SObject, type SourceInfo, type SValue } from './source.js';

const META_KEYS: Record<string, { required: string[]; optional: string[] }> = {
  enum: { required: ['data'], optional: ['prefix', 'if', 'features'] },
  struct: { required: ['data'], optional: ['base', 'if', 'features'] },
  union: { required: ['base', 'discriminator', 'data'], optional: ['if', 'features'] },
  alternate: { required: ['data'], optional: ['if', 'features'] },
  command: {
    required: [],
    optional: ['data', 'returns', 'boxed', 'if', 'features', 'gen', 'success-response', 'allow-oob', 'allow-preconfig', 'coroutine'],
  },
  event: { required: [], optional: ['data', 'boxed', 'if', 'features'] },
};

// Optional downstream prefix `__RFQDN_`, then a letter (QEMU's valid_name).
const NAME_RE = /^(__[a-zA-Z0-9.-]+_)?([a-zA-Z][a-zA-Z0-9_-]*)$/;
const ENUM_VALUE_RE = /^(__[a-zA-Z0-9.-]+_)?([a-zA-Z0-9][a-zA-Z0-9_-]*)$/;
const CAMEL_RE = /^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$/;
const UPPER_RE = /^[A-Z0-9_]+$/;

function fail(info: SourceInfo, msg: string): never {
  throw new QapiSchemaError(info, msg);
}

function stem(name: string): string {
  return NAME_RE.exec(name)?.[2] ?? name;
}

function checkName(info: SourceInfo, what: string, name: SValue | undefined, enumValue = false): string {
  if (typeof name !== 'string') fail(info, `${what} requires a string name`);
  if (!(enumValue ? ENUM_VALUE_RE : NAME_RE).test(name)) fail(info, `${what} has an invalid name '${name}'`);
  if (name.startsWith('q_')) fail(info, `${what} uses reserved name '${name}'`);
  return name;
}

function checkLowerName(info: SourceInfo, what: string, name: string, permitUpper: boolean, permitUnderscore: boolean): void {
  const s = stem(name);
  if (!permitUpper && /[A-Z]/.test(s)) fail(info, `${what} name '${name}' must not use uppercase`);
  if (!permitUnderscore && s.includes('_')) fail(info, `${what} name '${name}' must not use '_'`);
}

function checkDefnName(info: SourceInfo, meta: string, name: string, pragmas: Pragmas): void {
  const s = stem(name);
  if (meta === 'event') {
    if (!UPPER_RE.test(s)) fail(info, `name of ${meta} '${name}' must use uppercase and '_'`);
  } else if (meta === 'command') {
    checkLowerName(info, meta, name, false, pragmas.commandNameExceptions.has(name));
  } else {
    if (!CAMEL_RE.test(s)) fail(info, `name of ${meta} '${name}' must use CamelCase`);
    // Array types are named <Element>List.
    if (name.endsWith('List')) fail(info, `${meta} name '${name}' should not end in 'List'`);
  }
}

function checkCond(info: SourceInfo, v: SValue | undefined): Cond | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) fail(info, `'if' condition '${v}' is not a valid identifier`);
    return v;
  }
  if (!isSObject(v) || v.keys().length !== 1) fail(info, "'if' condition must be a string or an object with one key");
  const [op] = v.keys() as [string];
  const arg = v.get(op)!;
  if (op === 'not') return { not: checkCond(info, arg)! };
  if (op !== 'all' && op !== 'any') fail(info, `'if' condition has unknown operator '${op}'`);
  if (!Array.isArray(arg) || arg.length === 0) fail(info, `'if' condition '${op}' requires a non-empty list`);
  const list = arg.map((c) => checkCond(info, c)!);
  return op === 'all' ? { all: list } : { any: list };
}

function checkFeatures(info: SourceInfo, v: SValue | undefined): FeatureDef[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(info, "'features' must be an array");
  return v.map((f) => {
    if (typeof f === 'string') {
      checkName(info, 'feature', f);
      checkLowerName(info, 'feature', f, false, false);
      return { name: f };
    }
    if (!isSObject(f)) fail(info, "'features' members must be strings or objects");
    checkKeys(f, ['name'], ['if'], 'feature');
    const name = checkName(info, 'feature', f.get('name'));
    checkLowerName(info, 'feature', name, false, false);
    return { name, ifcond: checkCond(info, f.get('if')) };
  });
}

function checkKeys(obj: SObject, required: string[], optional: string[], what: string): void {
  for (const k of required) if (!obj.has(k)) fail(obj.info, `${what} misses key '${k}'`);
  for (const k of obj.keys()) {
    if (!required.includes(k) && !optional.includes(k)) fail(obj.info, `${what} has unknown key '${k}'`);
  }
}

function checkTypeRef(info: SourceInfo, v: SValue | undefined, what: string, allowArray = true): TypeRefDef {
  if (typeof v === 'string') return { name: v, array: false };
  if (Array.isArray(v)) {
    if (!allowArray) fail(info, `${what} cannot be an array`);
    if (v.length !== 1 || typeof v[0] !== 'string') fail(info, `${what}: array type must contain a single type name`);
    return { name: v[0], array: true };
  }
  return fail(info, `${what} should be a type name`);
}

function checkMembers(info: SourceInfo, v: SValue | undefined, owner: string, permitUpper: boolean): MemberDef[] {
  if (!isSObject(v)) fail(info, `'data' for '${owner}' should be an object or type name`);
  const out: MemberDef[] = [];
  for (const [rawKey, spec] of v.entries) {
    const optional = rawKey.startsWith('*');
    const name = checkName(v.info, `member of '${owner}'`, optional ? rawKey.slice(1) : rawKey);
    checkLowerName(v.info, `member of '${owner}'`, name, permitUpper, permitUpper);
    if (name === 'u' || name.startsWith('has-') || name.startsWith('has_')) {
      fail(v.info, `member of '${owner}' uses reserved name '${name}'`);
    }
    let type: TypeRefDef;
    let ifcond: Cond | undefined;
    let features: FeatureDef[] = [];
    if (isSObject(spec)) {
      checkKeys(spec, ['type'], ['if', 'features'], `member '${name}' of '${owner}'`);
      type = checkTypeRef(spec.info, spec.get('type'), `member '${name}' of '${owner}'`);
      ifcond = checkCond(spec.info, spec.get('if'));
      features = checkFeatures(spec.info, spec.get('features'));
    } else {
      type = checkTypeRef(v.info, spec, `member '${name}' of '${owner}'`);
    }
    out.push({ name, optional, type, ifcond, features, info: v.info });
  }
  return out;
}

function checkBranches(obj: SObject, owner: string, what: string, allowArray: boolean): BranchDef[] {
  const data = obj.get('data');
  if (!isSObject(data)) fail(obj.info, `'data' for ${what} '${owner}' should be an object`);
  if (data.keys().length === 0) fail(obj.info, `${what} '${owner}' has no branches`);
  return [...data.entries].map(([name, spec]) => {
    checkName(data.info, `branch of '${owner}'`, name, what === 'union');
    if (isSObject(spec)) {
      checkKeys(spec, ['type'], ['if'], `branch '${name}' of '${owner}'`);
      return {
        name,
        type: checkTypeRef(spec.info, spec.get('type'), `branch '${name}' of '${owner}'`, allowArray),
        ifcond: checkCond(spec.info, spec.get('if')),
        info: spec.info,
      };
    }
    return { name, type: checkTypeRef(data.info, spec, `branch '${name}' of '${owner}'`, allowArray), info: data.info };
  });
}

function checkEnumValues(obj: SObject, owner: string, permitUpper: boolean): EnumValueDef[] {
  const data = obj.get('data');
  if (!Array.isArray(data)) fail(obj.info, `enum '${owner}' requires an array for 'data'`);
  return data.map((v) => {
    if (typeof v === 'string') {
      checkName(obj.info, `value of '${owner}'`, v, true);
      checkLowerName(obj.info, `value of '${owner}'`, v, permitUpper, permitUpper);
      return { name: v, features: [] };
    }
    if (!isSObject(v)) fail(obj.info, `enum '${owner}' values must be strings or objects`);
    checkKeys(v, ['name'], ['if', 'features'], `value of '${owner}'`);
    const name = checkName(v.info, `value of '${owner}'`, v.get('name'), true);
    checkLowerName(v.info, `value of '${owner}'`, name, permitUpper, permitUpper);
    return { name, ifcond: checkCond(v.info, v.get('if')), features: checkFeatures(v.info, v.get('features')) };
  });
}

function optBool(obj: SObject, key: string, dflt: boolean): boolean {
  const v = obj.get(key);
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail(obj.info, `'${key}' of '${String(obj.get(obj.keys()[0]!))}' must be a boolean`);
  return v;
}

function argData(obj: SObject, name: string, permitUpper: boolean): string | MemberDef[] | undefined {
  const data = obj.get('data');
  if (data === undefined) return undefined;
  if (typeof data === 'string') return data;
  return checkMembers(obj.info, data, name, permitUpper);
}

export function checkExpression(parsed: ParsedExpr, pragmas: Pragmas): Definition {
  const { expr, module } = parsed;
  const meta = expr.keys().find((k) => META_KEYS[k] !== undefined);
  if (meta === undefined) fail(expr.info, 'expression is missing metatype');
  const spec = META_KEYS[meta]!;
  checkKeys(expr, [meta, ...spec.required], spec.optional, `${meta} '${String(expr.get(meta))}'`);
  const name = checkName(expr.info, meta, expr.get(meta));
  checkDefnName(expr.info, meta, name, pragmas);
  const base = { name, info: expr.info, module, ifcond: checkCond(expr.info, expr.get('if')), features: checkFeatures(expr.info, expr.get('features')) };
  const permitUpper = pragmas.memberNameExceptions.has(name);
  switch (meta) {
    case 'enum':
      return { ...base, meta, values: checkEnumValues(expr, name, permitUpper) };
    case 'struct': {
      const b = expr.get('base');
      if (b !== undefined && typeof b !== 'string') fail(expr.info, `'base' of struct '${name}' should be a type name`);
      return { ...base, meta, base: b, data: checkMembers(expr.info, expr.get('data'), name, permitUpper) };
    }
    case 'union': {
      const b = expr.get('base')!;
      const disc = expr.get('discriminator');
      if (typeof disc !== 'string') fail(expr.info, `'discriminator' of union '${name}' must be a string`);
      return {
        ...base,
        meta,
        base: typeof b === 'string' ? b : checkMembers(expr.info, b, name, permitUpper),
        discriminator: disc,
        branches: checkBranches(expr, name, 'union', false),
      };
    }
    case 'alternate':
      return { ...base, meta, branches: checkBranches(expr, name, 'alternate', false) };
    case 'command': {
      const returns = expr.get('returns');
      const boxed = optBool(expr, 'boxed', false);
      const data = argData(expr, name, permitUpper);
      if (boxed && typeof data !== 'string') fail(expr.info, `'boxed': true requires 'data' to name a type`);
      return {
        ...base,
        meta,
        data,
        boxed,
        returns: returns === undefined ? undefined : checkTypeRef(expr.info, returns, `'returns' of '${name}'`),
        allowOob: optBool(expr, 'allow-oob', false),
        successResponse: optBool(expr, 'success-response', true),
        gen: optBool(expr, 'gen', true),
      };
    }
    default: {
      const boxed = optBool(expr, 'boxed', false);
      const data = argData(expr, name, permitUpper);
      if (boxed && typeof data !== 'string') fail(expr.info, `'boxed': true requires 'data' to name a type`);
      return { ...base, meta: 'event', data, boxed };
    }
  }
}
