/**
 * What the rest of qmpd needs from the compiled QAPI schema: the command
 * table, argument validation with QEMU's texts, and introspection data.
 */
import type { QDict } from '../qmp/json/value.js';
import type { SchemaInfo } from './generated/types.js';

export interface SchemaCommandInfo {
  readonly name: string;
  readonly allowOob: boolean;
  readonly features: readonly string[];
}

export interface QapiSchemaRuntime {
  /** Every command of the schema, in schema order. */
  readonly commands: ReadonlyMap<string, SchemaCommandInfo>;
  /** Throws a QmpError with QEMU's text when `args` do not fit the command's argument type. */
  validateArguments(command: string, args: QDict): void;
  /** Loads what is only needed for speed (precompiled validators); resolves when done. */
  warmUp?(): Promise<void>;
  /** The SchemaInfo list that query-qmp-schema answers. */
  introspection(): readonly SchemaInfo[];
}
