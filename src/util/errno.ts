/** strerror() texts, as QEMU puts them into its messages ("Could not open 'x': ..."). */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EEXIST: 'File exists',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  EBUSY: 'Device or resource busy',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  EFBIG: 'File too large',
  ENOTSUP: 'Operation not supported',
  EOPNOTSUPP: 'Operation not supported',
  EAGAIN: 'Resource temporarily unavailable',
  EADDRINUSE: 'Address already in use',
  ECONNREFUSED: 'Connection refused',
};

export function describeErrno(e: unknown): string {
  const err = e as { code?: string } | undefined;
  return (err?.code && STRERROR[err.code]) ?? (e instanceof Error ? e.message : String(e));
}
