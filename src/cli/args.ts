/**
 * Command-line words → an ordered list of options, with getopt_long's rules
 * as QSD uses them: `--opt value` and `--opt=value`, unambiguous prefixes of
 * long names, short options, and every non-option word an error. Order is
 * kept because options are applied in order (a --blockdev before the
 * --export that names it).
 */

export interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  readonly hasArg: boolean;
}

export interface ParsedOption {
  readonly name: string;
  /** the option as the user typed it, for error messages */
  readonly typed: string;
  readonly value?: string;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedOption[] {
  const out: ParsedOption[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    const takeValue = (spec: OptionSpec, typed: string, inline?: string): void => {
      if (!spec.hasArg) {
        if (inline !== undefined) throw new UsageError(`option '--${spec.long}' doesn't allow an argument`);
        out.push({ name: spec.long, typed });
        return;
      }
      if (inline !== undefined) {
        out.push({ name: spec.long, typed, value: inline });
        return;
      }
      if (i + 1 >= argv.length) {
        throw new UsageError(
          typed.startsWith('--') ? `option '--${spec.long}' requires an argument` : `option requires an argument -- '${spec.short}'`,
        );
      }
      out.push({ name: spec.long, typed, value: argv[++i]! });
    };

    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const inline = eq < 0 ? undefined : word.slice(eq + 1);
      const exact = specs.find((s) => s.long === name);
      const candidates = exact ? [exact] : specs.filter((s) => s.long.startsWith(name));
      if (candidates.length === 0) throw new UsageError(`unrecognized option '${eq < 0 ? word : word.slice(0, eq)}'`);
      if (candidates.length > 1) throw new UsageError(`option '${word}' is ambiguous`);
      takeValue(candidates[0]!, eq < 0 ? word : word.slice(0, eq), inline);
    } else if (word.startsWith('-') && word.length > 1 && word !== '--') {
      const letter = word[1]!;
      const spec = specs.find((s) => s.short === letter);
      if (!spec) throw new UsageError(`invalid option -- '${letter}'`);
      takeValue(spec, `-${letter}`, word.length > 2 ? word.slice(2) : undefined);
    } else {
      throw new UsageError(`${word}: Unexpected argument`);
    }
  }
  return out;
}
