/**
 * The compiled QAPI schema as the daemon uses it: the command table, argument
 * validation (ajv accepts fast; the ordered walker words QEMU's first error)
 * and the introspection list.
 */
import type { QDict } from '../qmp/json/value.js';
import { argumentValidators } from './ajv-validators.js';
import { INTROSPECTION } from './generated/introspection.js';
import { COMMANDS, EVENTS } from './generated/tables.js';
import type { SchemaInfo } from './generated/types.js';
import type { QapiSchemaRuntime, SchemaCommandInfo } from './runtime.js';
import { typeNodes, type ObjectNode } from './type-nodes.js';
import { walkArguments } from './validate.js';

interface CommandSlot {
  readonly info: SchemaCommandInfo;
  readonly argType: ObjectNode | undefined;
  /** No mandatory arguments: `{}` is valid without looking further. */
  readonly emptyOk: boolean;
}

export interface QapiRuntime extends QapiSchemaRuntime {
  /** Event names in schema order, with their features. */
  readonly events: ReadonlyMap<string, { readonly name: string; readonly features: readonly string[] }>;
  introspection(): readonly SchemaInfo[];
}

/** Most requests carry no arguments; this stops at the first key instead of listing them all. */
function isEmpty(args: QDict): boolean {
  for (const key in args) {
    void key;
    return false;
  }
  return true;
}

export function loadSchemaRuntime(): QapiRuntime {
  const nodes = typeNodes();
  const validator = argumentValidators();
  const slots = new Map<string, CommandSlot>();
  const commands = new Map<string, SchemaCommandInfo>();
  for (const c of COMMANDS) {
    const info: SchemaCommandInfo = { name: c.n, allowOob: c.oob === true, features: c.f ?? [] };
    const argType = c.a < 0 ? undefined : (nodes.byIndex[c.a] as ObjectNode);
    commands.set(c.n, info);
    slots.set(c.n, { info, argType, emptyOk: !argType || argType.required === 0 });
  }
  const events = new Map(EVENTS.map((e) => [e.n, { name: e.n, features: e.f ?? [] }]));

  return {
    commands,
    events,
    validateArguments(command: string, args: QDict): void {
      const slot = slots.get(command);
      if (!slot) throw new Error(`command ${command} is not in the QAPI schema`);
      if (slot.emptyOk && isEmpty(args)) return;
      if (validator.get(command)?.(args)) return;
      walkArguments(slot.argType, args);
    },
    warmUp: () => validator.load(),
    introspection: () => INTROSPECTION,
  };
}
