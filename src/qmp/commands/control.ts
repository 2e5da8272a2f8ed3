/** The monitor's own commands: negotiation, version, introspection, quit. */
import type { CommandRegistry } from '../registry.js';
import { versionInfo } from '../../version.js';

export interface ControlHooks {
  /** Work that QEMU does before answering quit (exports announce their removal first). */
  beforeQuit?: () => Promise<void>;
}

export function registerControlCommands(registry: CommandRegistry, hooks: ControlHooks = {}): void {
  registry.register('qmp_capabilities', (args, ctx) => {
    ctx.negotiate(args.enable ?? []);
  });
  registry.register('query-version', () => versionInfo());
  registry.register('query-commands', () => registry.names().map((name) => ({ name })));
  registry.register('query-qmp-schema', () => registry.schema.introspection());
  registry.register('quit', async (_args, ctx) => {
    await hooks.beforeQuit?.();
    ctx.requestShutdown();
  });
}
