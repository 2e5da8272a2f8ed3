/**
 * ajv validators of every command's arguments, compiled at `npm run gen` time
 * into one standalone ESM module: the daemon loads ready code instead of
 * compiling ~1 MB of validators at startup (0.3 s) or on first use.
 */
import Ajv2020Module from 'ajv/dist/2020.js';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { AJV_OPTIONS } from '../ajv-options.js';

// ajv is CommonJS; under NodeNext its exports are the modules' `.default`.
const Ajv2020 = Ajv2020Module.default;
const standaloneCode = standaloneModule.default;

/** Export name of a command's validator in the generated module. */
export function validatorExportName(command: string): string {
  return 'v_' + command.replace(/[^A-Za-z0-9]/g, '_');
}

/** `files`: the JSON Schema files (relative path → text) written to schema/. */
export function buildStandaloneValidators(files: ReadonlyMap<string, string>, header: string): string {
  const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true, esm: true, lines: false } });
  ajv.addSchema(JSON.parse(files.get('qapi.schema.json')!) as object);
  const refs: Record<string, string> = {};
  for (const [rel, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!rel.startsWith('commands/')) continue;
    const schema = JSON.parse(text) as { $id: string };
    ajv.addSchema(schema);
    refs[validatorExportName(rel.slice('commands/'.length, -'.json'.length))] = schema.$id;
  }
  return `// ${header}\n// @ts-nocheck -- ajv's generated code\n/* eslint-disable */\n${standaloneCode(ajv, refs)}\n`;
}
