/**
 * Where a schema entity came from, and the one error type of the compiler.
 * Every message starts with `file:line:` so editors can jump to it (QEMU's
 * QAPISourceError does the same).
 */

export interface SourceInfo {
  readonly file: string;
  readonly line: number;
}

export class QapiSchemaError extends Error {
  constructor(
    readonly info: SourceInfo | undefined,
    readonly detail: string,
  ) {
    super(info ? `${info.file}:${info.line}: ${detail}` : detail);
    this.name = 'QapiSchemaError';
  }
}

/** A value of the schema language: strings, booleans, lists and ordered objects. */
export type SValue = string | boolean | SValue[] | SObject;

/** Objects keep their key order (member order is wire order) and the line of each key. */
export class SObject {
  readonly entries = new Map<string, SValue>();
  constructor(readonly info: SourceInfo) {}

  get(key: string): SValue | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
}

export function isSObject(v: SValue | undefined): v is SObject {
  return v instanceof SObject;
}
