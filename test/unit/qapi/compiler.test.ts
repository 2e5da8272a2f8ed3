import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generate, main } from '../../../src/qapi/compiler/main.js';
import { buildSchema } from '../../../src/qapi/compiler/schema.js';
import { QapiSchemaError } from '../../../src/qapi/compiler/source.js';
import { buildIntrospection } from '../../../src/qapi/compiler/visitors/introspect.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Writes the files into a temp dir and compiles `main.json` from there. */
function compile(files: Record<string, string>, config?: ReadonlySet<string>) {
  const dir = mkdtempSync(join(tmpdir(), 'qapi-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return buildSchema(join(dir, 'main.json'), config, dir);
}

function compileError(files: Record<string, string>): string {
  try {
    compile(files);
  } catch (err) {
    if (err instanceof QapiSchemaError) return err.message;
    throw err;
  }
  throw new Error('schema compiled without error');
}

const GOOD = `
# a comment
{ 'include': 'types.json' }
{ 'command': 'do-it', 'data': { 'node': 'str', '*mode': 'Mode', '*n': 'uint32' }, 'returns': 'Info' }
{ 'command': 'add', 'data': 'Opts', 'boxed': true }
{ 'event': 'DONE', 'data': { 'id': 'str' } }
{ 'command': 'hidden', 'if': 'CONFIG_NOPE' }
`;
const TYPES = `
{ 'enum': 'Mode', 'data': [ 'a', { 'name': 'b', 'features': [ 'deprecated' ] }, { 'name': 'c', 'if': 'CONFIG_NOPE' } ] }
{ 'struct': 'Info', 'data': { 'count': 'int', 'list': [ 'str' ] } }
{ 'struct': 'Base', 'data': { 'kind': 'Mode', '*tag': 'str' } }
{ 'struct': 'BranchA', 'data': { 'x': 'int' } }
{ 'union': 'Opts', 'base': 'Base', 'discriminator': 'kind', 'data': { 'a': 'BranchA' } }
{ 'alternate': 'Ref', 'data': { 'def': 'Opts', 'name': 'str', 'none': 'null' } }
`;

describe('the QAPI compiler', () => {
  it('compiles a schema with includes, unions, alternates and conditionals', () => {
    const s = compile({ 'main.json': GOOD, 'types.json': TYPES });
    expect(s.entities.map((e) => `${e.kind} ${e.name} ${e.on}`)).toEqual([
      'command do-it true',
      'command add true',
      'event DONE true',
      'command hidden false',
    ]);
    const intro = buildIntrospection(s);
    expect(intro.map((e) => e.name)).toEqual(['do-it', 'add', 'DONE', '0', '1', '2', '3', '4', 'str', '5', 'int', '[str]', '6']);
    // The explicit branch, then an empty one ("3" is q_empty, first met as a ret-type) for every other enabled enum value.
    const opts = intro.find((e) => e['meta-type'] === 'object' && 'tag' in e);
    expect(opts?.variants).toEqual([
      { case: 'a', type: '6' },
      { case: 'b', type: '3' },
    ]);
  });

  it('numbers types used only by disabled entities, as QEMU does, but does not list them', () => {
    const s = compile({
      'main.json': `{ 'struct': 'Off', 'data': { 'a': 'int' }, 'if': 'CONFIG_NOPE' }
        { 'command': 'off', 'data': 'Off', 'if': 'CONFIG_NOPE' }
        { 'command': 'on', 'data': { 'b': 'bool' } }`,
    });
    const intro = buildIntrospection(s);
    // 'off' took "0" (its arguments) and queued `int`; the output keeps only what is enabled.
    expect(intro.map((e) => e.name)).toEqual(['on', '1', '2', 'int', 'bool']);
  });

  it('reports an unknown type with file and line', () => {
    expect(compileError({ 'main.json': `\n\n{ 'command': 'x', 'data': { 'a': 'Nope' } }` })).toBe(
      "main.json:3: member 'a' of 'x' uses unknown type 'Nope'",
    );
  });

  it('reports a duplicate name with both places', () => {
    expect(compileError({ 'main.json': "{ 'enum': 'Foo', 'data': [] }\n{ 'struct': 'Foo', 'data': {} }" })).toBe(
      "main.json:2: struct 'Foo' is already defined at main.json:1",
    );
  });

  it('rejects a union whose discriminator is not an enum member of the base', () => {
    const base = "{ 'struct': 'Base', 'data': { 'kind': 'str' } }\n{ 'struct': 'Xx', 'data': {} }\n";
    expect(compileError({ 'main.json': `${base}{ 'union': 'Un', 'base': 'Base', 'discriminator': 'kind', 'data': { 'a': 'Xx' } }` })).toBe(
      "main.json:3: discriminator member 'kind' of 'base' must be of enum type",
    );
    expect(compileError({ 'main.json': `${base}{ 'union': 'Un', 'base': 'Base', 'discriminator': 'nope', 'data': { 'a': 'Xx' } }` })).toBe(
      "main.json:3: discriminator 'nope' is not a member of 'base'",
    );
  });

  it('rejects a union branch that is not a value of the discriminator enum', () => {
    expect(
      compileError({
        'main.json': `{ 'enum': 'Ee', 'data': [ 'a' ] }
{ 'struct': 'Xx', 'data': {} }
{ 'union': 'Un', 'base': { 'kind': 'Ee' }, 'discriminator': 'kind',
  'data': { 'zz': 'Xx' } }`,
      }),
    ).toBe("main.json:4: branch 'zz' is not a value of Ee");
  });

  it('rejects an alternate whose branches cannot be told apart by JSON type', () => {
    expect(
      compileError({ 'main.json': "{ 'enum': 'Ee', 'data': [ 'a' ] }\n{ 'alternate': 'Alt', 'data': { 's': 'str', 'e': 'Ee' } }" }),
    ).toBe("main.json:2: branch 'e' of alternate 'Alt' can't be distinguished from 's'");
    expect(compileError({ 'main.json': "{ 'alternate': 'Alt', 'data': { 'l': [ 'str' ] } }" })).toBe(
      "main.json:1: branch 'l' of 'Alt' cannot be an array",
    );
  });

  it('reports a missing include file at the include directive', () => {
    expect(compileError({ 'main.json': "\n{ 'include': 'nope.json' }" })).toBe("main.json:2: can't read include file 'nope.json': ENOENT");
  });

  it('reports an include loop', () => {
    expect(compileError({ 'main.json': "{ 'include': 'b.json' }", 'b.json': "{ 'include': 'main.json' }" })).toBe(
      'b.json:1: inclusion loop for main.json',
    );
  });

  it('reports syntax errors with their line', () => {
    expect(compileError({ 'main.json': "{ 'enum': 'E',\n  'data': [ 'a' 'b' ] }" })).toBe("main.json:2: expected ',' or ']'");
    expect(compileError({ 'main.json': '{ "enum": "E" }' })).toBe("main.json:1: stray '\"'");
    expect(compileError({ 'main.json': "{ 'enum': 'E', 'data': [], 'data': [] }" })).toBe("main.json:1: duplicate key 'data'");
    expect(compileError({ 'main.json': "{ 'enum': 'E'" })).toBe("main.json:1: expected ',' or '}' (end of file)");
  });

  it('enforces naming rules and unknown keys', () => {
    expect(compileError({ 'main.json': "{ 'command': 'do_it' }" })).toBe("main.json:1: command name 'do_it' must not use '_'");
    expect(compileError({ 'main.json': "{ 'event': 'done' }" })).toBe("main.json:1: name of event 'done' must use uppercase and '_'");
    expect(compileError({ 'main.json': "{ 'struct': 'St', 'data': {}, 'bogus': true }" })).toBe(
      "main.json:1: struct 'St' has unknown key 'bogus'",
    );
    expect(compileError({ 'main.json': "{ 'struct': 'St', 'data': { 'a_b': 'str' } }" })).toBe(
      "main.json:1: member of 'St' name 'a_b' must not use '_'",
    );
    expect(compileError({ 'main.json': "{ 'struct': 'lower', 'data': {} }" })).toBe("main.json:1: name of struct 'lower' must use CamelCase");
  });

  it('rejects member clashes between a struct and its base', () => {
    expect(
      compileError({ 'main.json': "{ 'struct': 'Base', 'data': { 'x': 'str' } }\n{ 'struct': 'St', 'base': 'Base', 'data': { 'x': 'int' } }" }),
    ).toBe("main.json:2: member 'x' of 'St' collides with another member");
  });
});

describe('the qapi-gen entry point', () => {
  it('prints file:line: message and exits non-zero on a schema error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qapi-main-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'bad.json'), "{ 'struct': 'Bad', 'data': { 'a': 'Nope' } }\n");
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(main(['bad.json', '--check'], dir)).toBe(1);
      expect(err).toHaveBeenCalledWith("bad.json:1: member 'a' of 'Bad' uses unknown type 'Nope'\n");
    } finally {
      err.mockRestore();
    }
  });
});

describe('the committed generated files', () => {
  it('are exactly what the compiler produces from qapi/', () => {
    const repo = resolve(import.meta.dirname, '../../..');
    const copy = mkdtempSync(join(tmpdir(), 'qapi-gen-'));
    dirs.push(copy);
    // Generate into a scratch root that only shares the schema sources.
    writeFileSync(join(copy, 'link.json'), "{ 'include': '" + join(repo, 'qapi/qapi-schema.json').replace(/'/g, '') + "' }");
    generate({ root: copy, schemaFile: 'link.json' });
    for (const f of ['types.ts', 'commands.ts', 'events.ts', 'tables.ts', 'introspection.ts']) {
      expect(readFileSync(join(copy, 'src/qapi/generated', f), 'utf8'), f).toBe(readFileSync(join(repo, 'src/qapi/generated', f), 'utf8'));
    }
    for (const f of ['qapi.schema.json', 'commands/blockdev-add.json', 'commands/transaction.json']) {
      expect(readFileSync(join(copy, 'schema', f), 'utf8'), f).toBe(readFileSync(join(repo, 'schema', f), 'utf8'));
    }
  });
});
