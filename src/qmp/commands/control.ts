/** The monitor's own commands: negotiation, version, introspection, quit. */
import type { CommandRegistry } from '../registry.js';
import { versionInfo } from '../../version.js';

export function registerControlCommands(registry: CommandRegistry): void {
  registry.register('qmp_capabilities', (args, ctx) => {
    ctx.negotiate(args.enable ?? []);
  });
  registry.register('query-version', () => versionInfo());
  registry.register('query-commands', () => registry.names().map((name) => ({ name })));
  registry.register('query-qmp-schema', () => registry.schema.introspection());
  registry.register('quit', (_args, ctx) => {
    ctx.requestShutdown();
  });
}
