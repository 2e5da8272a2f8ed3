/** The QMP error text a promise is refused with (fails the test if it resolves or throws anything else). */
import { expect } from 'vitest';
import { QmpError } from '../../src/qmp/error.js';

export async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(QmpError);
  return (err as QmpError).desc;
}
