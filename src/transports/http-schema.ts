/**
 * The JSON Schema of every command's arguments, as the QAPI generator wrote
 * them under schema/ (the same files ajv validates with), read once when the
 * HTTP side starts. GET /api/v1/schema serves them with the introspection
 * data; openapi.ts builds the OpenAPI document from them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEMA_DIR } from '../qapi/ajv-validators.js';

export type JsonObject = { [key: string]: unknown };

export interface CommandSchemas {
  /** qapi.schema.json: every named type under $defs. */
  readonly definitions: JsonObject;
  /** Command name → schema of its arguments object (refs point into definitions). */
  readonly commands: ReadonlyMap<string, JsonObject>;
}

const DEFS_FILE = 'qapi.schema.json';
const COMMANDS_DIR = 'commands';

function readJson(file: string): JsonObject {
  return JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
}

export function loadCommandSchemas(dir: string = SCHEMA_DIR): CommandSchemas {
  const definitions = readJson(path.join(dir, DEFS_FILE));
  const commands = new Map<string, JsonObject>();
  for (const file of readdirSync(path.join(dir, COMMANDS_DIR)).sort()) {
    if (file.endsWith('.json')) commands.set(file.slice(0, -'.json'.length), readJson(path.join(dir, COMMANDS_DIR, file)));
  }
  return { definitions, commands };
}

/** Deep copy with every `$ref` passed through `map` (and the file-level $schema/$id/$comment dropped). */
export function rewriteRefs(value: unknown, map: (ref: string) => string, top = true): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, map, false));
  if (typeof value !== 'object' || value === null) return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (top && (key === '$schema' || key === '$id' || key === '$comment')) continue;
    out[key] = key === '$ref' && typeof v === 'string' ? map(v) : rewriteRefs(v, map, false);
  }
  return out;
}

/** The body of GET /api/v1/schema. */
export function schemaDocument(schemas: CommandSchemas, introspection: readonly unknown[]): JsonObject {
  return {
    introspection,
    definitions: schemas.definitions,
    commands: Object.fromEntries(schemas.commands),
  };
}
