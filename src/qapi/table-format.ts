/**
 * The compact type tables the runtime validator walks (written by the
 * compiler into generated/tables.ts). Type references are indexes into
 * TYPES; only entities enabled in our build configuration appear.
 */

/** [member name, type index, 1 when optional]. Order is QEMU's visiting order (base first). */
export type MemberEntry = readonly [name: string, type: number, optional?: 1];

export type TypeEntry =
  | { readonly k: 'builtin'; readonly n: string }
  | { readonly k: 'enum'; readonly n: string; readonly v: readonly string[] }
  | { readonly k: 'array'; readonly n: string; readonly e: number }
  | {
      readonly k: 'object';
      readonly n: string;
      readonly m: readonly MemberEntry[];
      /** Union discriminator member and the branch type of each enum value. */
      readonly tag?: string;
      readonly v?: Readonly<Record<string, number>>;
    }
  | { readonly k: 'alternate'; readonly n: string; readonly a: readonly number[] };

export interface CommandEntry {
  readonly n: string;
  /** Argument type index, or -1 when the command takes no arguments. */
  readonly a: number;
  readonly oob?: true;
  readonly f?: readonly string[];
}

export interface EventEntry {
  readonly n: string;
  readonly a: number;
  readonly f?: readonly string[];
}
