/**
 * The command table: QAPI schema entries joined with their handlers. A family
 * of commands registers its handlers in one module (qmp/commands/*).
 */
import type { Logger } from 'pino';
import type { QapiSchemaRuntime, SchemaCommandInfo } from '../qapi/runtime.js';
import type { QmpCommandMap } from '../qapi/generated/commands.js';
import { QmpError } from './error.js';
import type { QDict } from './json/value.js';

/** What a handler knows about the monitor that called it. */
export interface CommandContext {
  readonly monitorId: string;
  readonly log: Logger;
  /** Ask the owning daemon to shut down once the reply is out (quit). */
  requestShutdown(): void;
  /** Leave negotiation mode with these capabilities; throws once negotiation is over. */
  negotiate(capabilities: readonly string[]): void;
}

export type CommandHandler<A, R> = (args: A, ctx: CommandContext) => R | Promise<R>;

export interface RegisteredCommand {
  readonly info: SchemaCommandInfo;
  readonly handler: CommandHandler<QDict, unknown>;
}

export class CommandRegistry {
  private readonly table = new Map<string, RegisteredCommand>();

  constructor(readonly schema: QapiSchemaRuntime) {}

  register<K extends keyof QmpCommandMap & string>(
    name: K,
    handler: CommandHandler<QmpCommandMap[K]['args'], QmpCommandMap[K]['ret']>,
  ): void {
    const info = this.schema.commands.get(name);
    if (!info) throw new Error(`command ${name} is not in the QAPI schema`);
    if (this.table.has(name)) throw new Error(`command ${name} registered twice`);
    // Arguments were validated against the schema before the handler runs.
    this.table.set(name, { info, handler: handler as unknown as CommandHandler<QDict, unknown> });
  }

  /** Schema commands nobody implements answer this error rather than vanishing from query-commands. */
  registerUnsupported(reason: (name: string) => string): void {
    for (const info of this.schema.commands.values()) {
      if (this.table.has(info.name)) continue;
      const text = reason(info.name);
      this.table.set(info.name, {
        info,
        handler: () => {
          throw QmpError.generic(text);
        },
      });
    }
  }

  get(name: string): RegisteredCommand | undefined {
    return this.table.get(name);
  }

  /** query-commands order: QSD lists its commands in reverse schema order. */
  names(): string[] {
    return [...this.schema.commands.keys()].filter((n) => this.table.has(n)).reverse();
  }
}
