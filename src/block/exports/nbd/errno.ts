/**
 * Host errors → NBD error values, as QEMU's system_errno_to_nbd_errno() maps
 * them: EPERM/EROFS → EPERM, EDQUOT/EFBIG/ENOSPC → ENOSPC, ENOTSUP → ENOTSUP,
 * ..., anything else → EINVAL. An error without an errno code is a defect in
 * the backend rather than a client mistake, so it becomes EIO.
 */
import {
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOMEM,
  NBD_ENOSPC,
  NBD_ENOTSUP,
  NBD_EOVERFLOW,
  NBD_EPERM,
  NBD_ESHUTDOWN,
} from './constants.js';

const BY_CODE: ReadonlyMap<string, number> = new Map([
  ['EPERM', NBD_EPERM],
  ['EROFS', NBD_EPERM],
  ['EIO', NBD_EIO],
  ['ENOMEM', NBD_ENOMEM],
  ['EDQUOT', NBD_ENOSPC],
  ['EFBIG', NBD_ENOSPC],
  ['ENOSPC', NBD_ENOSPC],
  ['EOVERFLOW', NBD_EOVERFLOW],
  ['ENOTSUP', NBD_ENOTSUP],
  ['EOPNOTSUPP', NBD_ENOTSUP],
  ['ESHUTDOWN', NBD_ESHUTDOWN],
  ['EINVAL', NBD_EINVAL],
]);

/** The NBD error value for an error thrown by a backend. */
export function nbdErrnoOf(err: unknown): number {
  const code = errorCode(err);
  if (code === undefined) return NBD_EIO;
  return BY_CODE.get(code) ?? NBD_EINVAL;
}

/** The errno name carried by an error, if any. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' && code.startsWith('E') ? code : undefined;
}

/** An Error carrying an errno code, for backends (and tests) to throw. */
export function errnoError(code: string, message: string = code): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}
