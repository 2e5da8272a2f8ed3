// PLACEHOLDER until scripts/qapi-gen writes this file.
export interface QmpCommandMap {
  qmp_capabilities: { args: { enable?: string[] }; ret: void };
  'query-version': { args: Record<string, never>; ret: { qemu: { major: number; minor: number; micro: number }; package: string } };
  'query-commands': { args: Record<string, never>; ret: { name: string }[] };
  'query-qmp-schema': { args: Record<string, never>; ret: readonly unknown[] };
  quit: { args: Record<string, never>; ret: void };
}
