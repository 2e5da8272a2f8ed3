/**
 * ajv validators for every command's arguments, generated from the JSON
 * Schema in schema/ by ajv at `npm run gen` time. They are the fast accept path:
 * whatever they accept is valid. Anything they refuse (including bigint and
 * QDouble values, which JSON Schema cannot describe) goes to the walker,
 * which decides and words the error as QEMU does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import { AJV_OPTIONS } from './compiler/ajv-options.js';

// ajv is CommonJS; under NodeNext its class is the module's `.default` (set by ajv for this purpose).
const Ajv2020 = Ajv2020Module.default;

/** schema/ at the repository root, from src/qapi (tests) or dist/qapi (daemon). */
export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

export type ArgsValidator = ValidateFunction;

/** A command's validator is exported as `v_<name>` by the generated module (see compiler/visitors/ajv-standalone.ts). */
function exportName(command: string): string {
  return 'v_' + command.replace(/[^A-Za-z0-9]/g, '_');
}

/**
 * The validators ajv compiled at `npm run gen` time (src/qapi/generated/validators.ts,
 * ~1 MB of code). They load while the daemon starts; until then the ordered walker
 * alone decides, which is always correct, only slower.
 */
export interface Validators {
  get(command: string): ArgsValidator | undefined;
  /** Loads the generated module (parsing it takes ~30 ms); resolves when done, once. */
  load(): Promise<void>;
}

export function argumentValidators(): Validators {
  let loaded: Record<string, ArgsValidator> | undefined;
  let loading: Promise<void> | undefined;
  return {
    get: (command) => loaded?.[exportName(command)],
    load() {
      loading ??= import('./generated/validators.js').then((m) => {
        loaded = m as unknown as Record<string, ArgsValidator>;
      });
      return loading;
    },
  };
}

/** Compiles a validator per command from schema/ at run time (tests of the generated JSON Schema). */
function runtimeValidators(dir: string): (command: string) => ArgsValidator | undefined {
  let ajv: InstanceType<typeof Ajv2020> | undefined;
  const compiled = new Map<string, ArgsValidator | undefined>();
  const cmdDir = path.join(dir, 'commands');
  return (command) => {
    if (compiled.has(command)) return compiled.get(command);
    if (!ajv) {
      ajv = new Ajv2020(AJV_OPTIONS);
      ajv.addSchema(JSON.parse(readFileSync(path.join(dir, 'qapi.schema.json'), 'utf8')) as object);
    }
    const file = path.join(cmdDir, `${command}.json`);
    const validator = existsSync(file) ? ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object) : undefined;
    compiled.set(command, validator);
    return validator;
  };
}

/** Every command's validator at once (tests that check the schemas compile). */
export function compileArgumentValidators(dir = SCHEMA_DIR): Map<string, ArgsValidator> {
  const get = runtimeValidators(dir);
  const out = new Map<string, ArgsValidator>();
  for (const file of readdirSync(path.join(dir, 'commands')).sort()) {
    if (!file.endsWith('.json')) continue;
    const name = file.slice(0, -'.json'.length);
    out.set(name, get(name)!);
  }
  return out;
}
