// PLACEHOLDER: replaced by the compiled schema runtime (scripts/qapi-gen).
import { QmpError } from '../qmp/error.js';
import type { QDict } from '../qmp/json/value.js';
import type { QapiSchemaRuntime, SchemaCommandInfo } from './runtime.js';

const NAMES = ['qmp_capabilities', 'query-version', 'query-commands', 'query-qmp-schema', 'quit'];

export function loadSchemaRuntime(): QapiSchemaRuntime {
  const commands = new Map<string, SchemaCommandInfo>(NAMES.map((name) => [name, { name, allowOob: false, features: [] }]));
  return {
    commands,
    validateArguments(command: string, args: QDict) {
      for (const key of Object.keys(args)) {
        if (command === 'qmp_capabilities' && key === 'enable') continue;
        throw QmpError.generic(`Parameter '${key}' is unexpected`);
      }
    },
    introspection: () => [],
  };
}
