import { beforeAll, describe, expect, it } from 'vitest';
import { QmpError } from '../../../src/qmp/error.js';
import { loadSchemaRuntime, type QapiRuntime } from '../../../src/qapi/schema-runtime.js';
import { compileArgumentValidators } from '../../../src/qapi/ajv-validators.js';
import { typeNodes } from '../../../src/qapi/type-nodes.js';
import { QSD_ARGUMENT_ERRORS } from './fixtures/qsd-argument-errors.js';
import { parseDict } from './parse-json.js';

let rt: QapiRuntime;
beforeAll(() => {
  rt = loadSchemaRuntime();
});

function errorOf(command: string, args: string): string | undefined {
  try {
    rt.validateArguments(command, parseDict(args));
    return undefined;
  } catch (err) {
    if (!(err instanceof QmpError)) throw err;
    expect(err.errorClass).toBe('GenericError');
    return err.desc;
  }
}

describe('the command table', () => {
  it('lists all 74 QSD commands in schema order, starting with query-block', () => {
    const names = [...rt.commands.keys()];
    expect(names).toHaveLength(74);
    expect(names.slice(0, 3)).toEqual(['query-block', 'query-blockstats', 'query-block-jobs']);
    expect(names.at(-1)).toBe('transaction');
  });

  it('carries command features and no allow-oob, as QSD 7.2 has none', () => {
    expect(rt.commands.get('blockdev-snapshot')?.features).toEqual(['allow-write-only-overlay']);
    expect(rt.commands.get('drive-backup')?.features).toEqual(['deprecated']);
    expect([...rt.commands.values()].some((c) => c.allowOob)).toBe(false);
  });

  it('lists the 13 events', () => {
    expect(rt.events.size).toBe(13);
    expect(rt.events.has('BLOCK_EXPORT_DELETED')).toBe(true);
  });
});

describe('argument validation against QSD 7.2 answers', () => {
  it.each(QSD_ARGUMENT_ERRORS)('%s %s fails with QSD text', (command, args, expected) => {
    expect(errorOf(command, args)).toBe(expected);
  });
});

describe('argument validation accepts what QEMU accepts', () => {
  const valid: [string, string][] = [
    ['query-version', '{}'],
    ['qmp_capabilities', '{"enable":["oob"]}'],
    ['blockdev-add', '{"driver":"qcow2","node-name":"base","file":{"driver":"file","filename":"base.qcow2"}}'],
    ['blockdev-add', '{"driver":"raw","node-name":"r","file":"basefile"}'],
    ['blockdev-add', '{"driver":"null-co","node-name":"n","size":1048576,"read-zeroes":true}'],
    ['blockdev-add', '{"driver":"qcow2","node-name":"ov","file":"ovfile","backing":null}'],
    ['blockdev-add', '{"driver":"null-co","node-name":"n","latency-ns":18446744073709551615}'],
    ['blockdev-add', '{"driver":"null-co","node-name":"n","latency-ns":-5}'],
    ['block-set-write-threshold', '{"node-name":"n","write-threshold":-9223372036854775808}'],
    ['transaction', '{"actions":[{"type":"blockdev-snapshot-sync","data":{"node-name":"base","snapshot-file":"s1.qcow2"}},{"type":"abort","data":{}}],"properties":{"completion-mode":"individual"}}'],
    ['block-dirty-bitmap-merge', '{"node":"n","target":"t","bitmaps":["a",{"node":"n","name":"b"}]}'],
    ['qom-set', '{"path":"/objects/x","property":"p","value":{"any":[1.5,null]}}'],
    ['nbd-server-start', '{"addr":{"type":"unix","data":{"path":"/tmp/s"}},"max-connections":4294967295}'],
  ];
  it.each(valid)('%s %s is valid', (command, args) => {
    expect(errorOf(command, args)).toBeUndefined();
  });

  it('treats a double as a number but never as an integer', () => {
    expect(errorOf('block-job-set-speed', '{"device":"d","speed":1e3}')).toBe(
      "Invalid parameter type for 'speed', expected: integer",
    );
  });
});

describe('the ajv fast path', () => {
  // A QDouble is an object whose one own key is `value`; JSON Schema's "object" would accept it
  // wherever an object may consist of a lone `value` member. None may exist, or ajv could pass 1.5 as a struct.
  it('has no object type that a QDouble could satisfy', () => {
    const risky = typeNodes().byIndex.filter(
      (n) => n.kind === 'object' && n.memberNames.has('value') && n.members.every((m) => m.optional || m.name === 'value'),
    );
    expect(risky.map((n) => n.name)).toEqual([]);
  });

  it('refuses every argument set that QSD refuses, so accepting early is safe', () => {
    const validators = compileArgumentValidators();
    const accepted = QSD_ARGUMENT_ERRORS.filter(([command, args]) => validators.get(command)!(parseDict(args)));
    expect(accepted).toEqual([]);
  });

  it('accepts plain valid arguments without the walker', () => {
    const validators = compileArgumentValidators();
    expect(validators.get('blockdev-add')!(parseDict('{"driver":"qcow2","node-name":"b","file":{"driver":"file","filename":"b.qcow2"},"backing":null}'))).toBe(true);
    expect(validators.get('transaction')!(parseDict('{"actions":[{"type":"abort","data":{}}]}'))).toBe(true);
  });

  it('still words the error when ajv refuses a double where a struct is wanted', () => {
    expect(errorOf('blockdev-add', '{"driver":"raw","node-name":"y","file":"f","cache":1.5}')).toBe(
      "Invalid parameter type for 'cache', expected: object",
    );
  });
});

describe('introspection', () => {
  it('is the cached SchemaInfo list with QSD 7.2 entry counts', () => {
    const list = rt.introspection();
    expect(rt.introspection()).toBe(list);
    const count = (t: string): number => list.filter((e) => e['meta-type'] === t).length;
    expect(list).toHaveLength(494);
    expect([count('command'), count('event'), count('object'), count('enum'), count('array'), count('alternate'), count('builtin')]).toEqual([
      74, 13, 289, 68, 39, 5, 6,
    ]);
  });

  it('masks blockdev-snapshot-sync arguments as "6" and lists optional members with default null', () => {
    const list = rt.introspection();
    const cmd = list.find((e) => e.name === 'blockdev-snapshot-sync');
    expect(cmd).toMatchObject({ 'meta-type': 'command', 'arg-type': '6', 'ret-type': '0' });
    const arg = list.find((e) => e.name === '6');
    expect(arg).toMatchObject({
      members: [
        { name: 'device', default: null, type: 'str' },
        { name: 'node-name', default: null, type: 'str' },
        { name: 'snapshot-file', type: 'str' },
        { name: 'snapshot-node-name', default: null, type: 'str' },
        { name: 'format', default: null, type: 'str' },
        { name: 'mode', default: null, type: '93' },
      ],
    });
  });
});
