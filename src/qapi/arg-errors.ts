/** QEMU 7.2's texts for arguments that do not fit their QAPI type. */
import { QmpError } from '../qmp/error.js';

export const argErrors = {
  missing: (path: string) => QmpError.generic(`Parameter '${path}' is missing`),
  unexpected: (path: string) => QmpError.generic(`Parameter '${path}' is unexpected`),
  invalidType: (path: string, expected: string) =>
    QmpError.generic(`Invalid parameter type for '${path}', expected: ${expected}`),
  expects: (path: string, what: string) => QmpError.generic(`Parameter '${path}' expects ${what}`),
  badEnumValue: (name: string, value: string) => QmpError.generic(`Parameter '${name}' does not accept value '${value}'`),
} as const;
