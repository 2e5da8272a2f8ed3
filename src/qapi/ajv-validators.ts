/**
 * ajv validators for every command's arguments, compiled once at startup
 * from the generated JSON Schema in schema/. They are the fast accept path:
 * whatever they accept is valid. Anything they refuse (including bigint and
 * QDouble values, which JSON Schema cannot describe) goes to the walker,
 * which decides and words the error as QEMU does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';

// ajv is CommonJS; under NodeNext its class is the module's `.default` (set by ajv for this purpose).
const Ajv2020 = Ajv2020Module.default;

/** schema/ at the repository root, from src/qapi (tests) or dist/qapi (daemon). */
export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

export type ArgsValidator = ValidateFunction;

export function compileArgumentValidators(dir = SCHEMA_DIR): Map<string, ArgsValidator> {
  // Formats, coercion and defaults stay off: the schemas only check shapes, never change data.
  const ajv = new Ajv2020({ strict: true, allErrors: false, validateSchema: false, allowUnionTypes: true });
  ajv.addSchema(JSON.parse(readFileSync(path.join(dir, 'qapi.schema.json'), 'utf8')) as object);
  const out = new Map<string, ArgsValidator>();
  const cmdDir = path.join(dir, 'commands');
  for (const file of readdirSync(cmdDir).sort()) {
    if (!file.endsWith('.json')) continue;
    const schema = JSON.parse(readFileSync(path.join(cmdDir, file), 'utf8')) as object;
    out.set(file.slice(0, -'.json'.length), ajv.compile(schema));
  }
  return out;
}
