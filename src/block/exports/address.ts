/** NBD listen addresses from QMP's SocketAddressLegacy and the command line's flat SocketAddress. */
import { QmpError } from '../../qmp/error.js';
import type { SocketAddress, SocketAddressLegacy } from '../../qapi/generated/types.js';
import type { NbdListenAddress } from './nbd/index.js';

/** QEMU's default NBD port when an inet address gives none. */
const NBD_DEFAULT_PORT = 10809;

function inet(host: string, port: string): NbdListenAddress {
  const n = port === '' ? NBD_DEFAULT_PORT : Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw QmpError.generic(`Port '${port}' is invalid`);
  return { kind: 'tcp', host, port: n };
}

export function fromSocketAddress(a: SocketAddress): NbdListenAddress {
  switch (a.type) {
    case 'unix':
      return { kind: 'unix', path: a.path };
    case 'inet':
      return inet(a.host, a.port);
    default:
      throw QmpError.generic(`Socket address type '${a.type}' is not supported by qmpd`);
  }
}

export function fromLegacyAddress(a: SocketAddressLegacy): NbdListenAddress {
  switch (a.type) {
    case 'unix':
      return { kind: 'unix', path: a.data.path };
    case 'inet':
      return inet(a.data.host, a.data.port);
    default:
      throw QmpError.generic(`Socket address type '${a.type}' is not supported by qmpd`);
  }
}
