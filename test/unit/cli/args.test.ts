import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError, type OptionSpec } from '../../../src/cli/args.js';
import { parseQemuOpts } from '../../../src/cli/qemu-opts.js';

const SPECS: OptionSpec[] = [
  { long: 'blockdev', hasArg: true },
  { long: 'chardev', hasArg: true },
  { long: 'help', short: 'h', hasArg: false },
  { long: 'http', hasArg: true },
  { long: 'http-token-file', hasArg: true },
  { long: 'trace', short: 'T', hasArg: true },
];

describe('parseArgs', () => {
  it('keeps options in order, with separate and inline values', () => {
    expect(parseArgs(['--chardev', 'a', '--blockdev=b', '-T', 'x', '-h'], SPECS)).toEqual([
      { name: 'chardev', typed: '--chardev', value: 'a' },
      { name: 'blockdev', typed: '--blockdev', value: 'b' },
      { name: 'trace', typed: '-T', value: 'x' },
      { name: 'help', typed: '-h' },
    ]);
  });

  it('accepts unambiguous prefixes of long options, as getopt_long does', () => {
    expect(parseArgs(['--blo', 'x'], SPECS)).toEqual([{ name: 'blockdev', typed: '--blo', value: 'x' }]);
    expect(parseArgs(['--http', 'p'], SPECS)[0]!.name).toBe('http');
    expect(() => parseArgs(['--htt', 'p'], SPECS)).toThrow("option '--htt' is ambiguous");
  });

  it("reports getopt's texts for bad command lines", () => {
    expect(() => parseArgs(['--bogus'], SPECS)).toThrow(new UsageError("unrecognized option '--bogus'"));
    expect(() => parseArgs(['--blockdev'], SPECS)).toThrow("option '--blockdev' requires an argument");
    expect(() => parseArgs(['foo'], SPECS)).toThrow('foo: Unexpected argument');
    expect(() => parseArgs(['-x'], SPECS)).toThrow("invalid option -- 'x'");
    expect(() => parseArgs(['--help=1'], SPECS)).toThrow("option '--help' doesn't allow an argument");
  });
});

describe('parseQemuOpts', () => {
  it('reads an implied first value, key=value pairs and doubled commas', () => {
    const o = parseQemuOpts('socket,id=m,path=/a,,b,server=on,wait=off', 'backend');
    expect([...o]).toEqual([
      ['backend', 'socket'],
      ['id', 'm'],
      ['path', '/a,b'],
      ['server', 'on'],
      ['wait', 'off'],
    ]);
  });

  it('turns bare flags into on and no-prefixed flags into off', () => {
    expect([...parseQemuOpts('id=x,server,nowait', '')]).toEqual([
      ['id', 'x'],
      ['server', 'on'],
      ['wait', 'off'],
    ]);
  });
});
