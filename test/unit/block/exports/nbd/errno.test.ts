import { describe, expect, it } from 'vitest';
import { errnoError, nbdErrnoOf } from '../../../../../src/block/exports/nbd/errno.js';

describe('nbdErrnoOf', () => {
  it('maps host errors to NBD errors as QEMU does', () => {
    const map = (code: string) => nbdErrnoOf(errnoError(code));
    expect([map('EPERM'), map('EROFS'), map('EIO'), map('ENOMEM'), map('ENOSPC'), map('EDQUOT'), map('EFBIG')]).toEqual([1, 1, 5, 12, 28, 28, 28]);
    expect([map('EOVERFLOW'), map('ENOTSUP'), map('EOPNOTSUPP'), map('ESHUTDOWN'), map('EINVAL')]).toEqual([75, 95, 95, 108, 22]);
  });

  it('reports any other errno as EINVAL and an error without a code as EIO', () => {
    expect(nbdErrnoOf(errnoError('EACCES'))).toBe(22);
    expect(nbdErrnoOf(errnoError('EBUSY'))).toBe(22);
    expect(nbdErrnoOf(new TypeError('bug'))).toBe(5);
    expect(nbdErrnoOf('text')).toBe(5);
  });
});
