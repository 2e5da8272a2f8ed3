/**
 * Build configuration that `if` conditions are resolved against: the symbols
 * of QSD 7.2's Debian Linux build, as its query-qmp-schema shows them
 * (io_uring, FUSE/VDUSE exports and spice chardevs present; libblkio absent).
 */
import type { Cond } from './defs.js';

export const QSD_DEBIAN_CONFIG: ReadonlySet<string> = new Set([
  'CONFIG_LINUX',
  'CONFIG_POSIX',
  'CONFIG_LINUX_IO_URING',
  'CONFIG_REPLICATION',
  'HAVE_HOST_BLOCK_DEVICE',
  'CONFIG_FUSE',
  'CONFIG_VDUSE_BLK_EXPORT',
  'CONFIG_VHOST_USER_BLK_SERVER',
  'CONFIG_LIBPMEM',
  'CONFIG_VHOST_CRYPTO',
  'CONFIG_SECRET_KEYRING',
  'HAVE_IPPROTO_MPTCP',
  'CONFIG_SPICE',
  'CONFIG_SPICE_PROTOCOL',
  'CONFIG_DBUS_DISPLAY',
  'CONFIG_ZSTD',
]);

export function evalCond(cond: Cond | undefined, config: ReadonlySet<string>): boolean {
  if (cond === undefined) return true;
  if (typeof cond === 'string') return config.has(cond);
  if ('not' in cond) return !evalCond(cond.not, config);
  if ('all' in cond) return cond.all.every((c) => evalCond(c, config));
  return cond.any.some((c) => evalCond(c, config));
}
