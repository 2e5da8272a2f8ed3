/**
 * The ajv validators are only a fast accept path: whatever they accept, the
 * ordered walker (QEMU's rules) must accept too. Random argument objects built
 * from members of every union branch, wrong types and unknown keys check that
 * the discriminated unions never let through what QEMU refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileArgumentValidators } from '../../../src/qapi/ajv-validators.js';
import { COMMANDS } from '../../../src/qapi/generated/tables.js';
import { typeNodes, type ObjectNode } from '../../../src/qapi/type-nodes.js';
import { walkArguments } from '../../../src/qapi/validate.js';
import { QmpError } from '../../../src/qmp/error.js';
import { newDict, type QDict, type QValue } from '../../../src/qmp/json/value.js';
import { parseDict } from './parse-json.js';

const validators = compileArgumentValidators();

function argType(command: string): ObjectNode {
  const c = COMMANDS.find((e) => e.n === command)!;
  return typeNodes().byIndex[c.a] as ObjectNode;
}

function walkerAccepts(command: string, args: QDict): boolean {
  try {
    walkArguments(argType(command), args);
    return true;
  } catch (err) {
    if (err instanceof QmpError) return false;
    throw err;
  }
}

function dict(entries: [string, QValue][]): QDict {
  const d = newDict();
  for (const [k, v] of entries) d[k] = v;
  return d;
}

const scalar = fc.oneof(
  fc.constantFrom<QValue>('f.img', 'on', 'off', 'unmap', 'null-co', 'qcow2', 'file', 'base', '', 0, 1, -1, 512, 65536, true, false, null),
);

/** Objects over the keys given: each value a scalar, a nested object over the same keys, or a list. */
function objects(keys: readonly string[], depth = 2): fc.Arbitrary<QDict> {
  const value: fc.Arbitrary<QValue> =
    depth === 0 ? scalar : fc.oneof({ weight: 4, arbitrary: scalar }, objects(keys, depth - 1), fc.array(scalar, { maxLength: 2 }));
  return fc.array(fc.tuple(fc.constantFrom(...keys), value), { maxLength: 7 }).map(dict);
}

describe('the ajv fast path', () => {
  it('picks the union branch by its tag: members of other branches are refused', () => {
    const v = validators.get('blockdev-add')!;
    expect(v(parseDict('{"driver":"null-co","node-name":"n","size":512,"read-zeroes":true}'))).toBe(true);
    // 'filename' is a member of the file branch, not of null-co's
    expect(v(parseDict('{"driver":"null-co","node-name":"n","filename":"x"}'))).toBe(false);
    // null-aio shares null-co's branch type
    expect(v(parseDict('{"driver":"null-aio","node-name":"n","latency-ns":5}'))).toBe(true);
    expect(v(parseDict('{"driver":"nosuch","node-name":"n"}'))).toBe(false);
    expect(v(parseDict('{"node-name":"n"}'))).toBe(false);
  });

  it('accepts base members with every branch and nested unions inside them', () => {
    const v = validators.get('blockdev-add')!;
    const args = parseDict(
      '{"driver":"qcow2","node-name":"q","read-only":true,"cache":{"direct":false},"discard":"unmap",' +
        '"file":{"driver":"file","filename":"a.qcow2","locking":"off"},"backing":{"driver":"raw","file":"b"},"encrypt":{"format":"aes","key-secret":"s"}}',
    );
    expect(v(args)).toBe(true);
    expect(walkerAccepts('blockdev-add', args)).toBe(true);
  });

  const blockdevKeys = [
    'driver', 'node-name', 'read-only', 'cache', 'direct', 'discard', 'detect-zeroes', 'file', 'filename', 'backing',
    'size', 'read-zeroes', 'latency-ns', 'offset', 'locking', 'aio', 'lazy-refcounts', 'encrypt', 'format', 'nosuch',
  ];
  it('accepts nothing the walker refuses (blockdev-add)', () => {
    const args = objects(blockdevKeys).map((d) => {
      if (d.driver === undefined) d.driver = 'null-co';
      if (d['node-name'] === undefined) d['node-name'] = 'n';
      return d;
    });
    fc.assert(
      fc.property(args, (d) => {
        if (validators.get('blockdev-add')!(d)) expect(walkerAccepts('blockdev-add', d)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts nothing the walker refuses (transaction)', () => {
    // each action's own members, mostly with the right types, and now and then another action's
    const own: Record<string, string[]> = {
      abort: [],
      'blockdev-snapshot-sync': ['device', 'node-name', 'snapshot-file', 'snapshot-node-name', 'mode', 'format'],
      'blockdev-snapshot': ['node', 'overlay'],
      'block-dirty-bitmap-add': ['node', 'name', 'persistent', 'granularity'],
    };
    const stringValue = fc.oneof({ weight: 5, arbitrary: fc.constantFrom<QValue>('s.qcow2', 'base', 'existing', 'qcow2') }, { weight: 1, arbitrary: scalar });
    const action = fc.constantFrom(...Object.keys(own), 'nosuch').chain((type) => {
      const keys = own[type] ?? [];
      const member = fc.tuple(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...keys, 'data') }, { weight: 1, arbitrary: fc.constantFrom('device', 'node', 'nosuch') }), stringValue);
      return fc
        .tuple(fc.array(member, { maxLength: keys.length + 1 }), fc.constantFrom<'keep' | 'drop' | 'extra'>('keep', 'keep', 'keep', 'drop', 'extra'))
        .map(([members, wrap]) => {
          const a = dict([['type', type], ['data', dict(members)]]);
          if (wrap === 'drop') delete a.data;
          else if (wrap === 'extra') a.extra = 1;
          return a;
        });
    });
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 3 }), (actions) => {
        const d = dict([['actions', actions]]);
        if (validators.get('transaction')!(d)) expect(walkerAccepts('transaction', d)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
