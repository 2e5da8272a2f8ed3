/** NBD listen addresses from QMP's SocketAddressLegacy and the command line's flat SocketAddress. */
import { isIP } from 'node:net';
import { QmpError } from '../../qmp/error.js';
import type { SocketAddress, SocketAddressLegacy } from '../../qapi/generated/types.js';
import type { NbdListenAddress } from './nbd/index.js';

/** QEMU's default NBD port when an inet address gives none. */
const NBD_DEFAULT_PORT = 10809;

/** The InetSocketAddress flags that change how QEMU resolves a listen address. */
interface InetFlags {
  numeric?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
}

/**
 * The address family inet_ai_family_from_address() asks getaddrinfo() for:
 * 6 or 4 when one family is chosen or the other is switched off, else any.
 */
function requestedFamily(f: InetFlags): 4 | 6 | 0 {
  if (f.ipv4 === true && f.ipv6 === true) return 0;
  if (f.ipv6 === true || f.ipv4 === false) return 6;
  if (f.ipv4 === true || f.ipv6 === false) return 4;
  return 0;
}

function inet(host: string, port: string, flags: InetFlags): NbdListenAddress {
  const fail = (why: string): QmpError => QmpError.generic(`address resolution failed for ${host}:${port}: ${why}`);
  if (port !== '' && !/^[0-9]+$/.test(port)) throw fail('Servname not supported for ai_socktype');
  // getaddrinfo() answers for literals itself: AI_NUMERICHOST refuses a name, and a literal of
  // the other family than the one asked for is EAI_ADDRFAMILY
  const literal = isIP(host);
  if (flags.numeric === true && literal === 0) throw fail('Name or service not known');
  const family = requestedFamily(flags);
  if (literal !== 0 && family !== 0 && literal !== family) throw fail('Address family for hostname not supported');
  // getaddrinfo() keeps the low 16 bits of a numeric service, so 99999 is port 34463 in QEMU
  const n = port === '' ? NBD_DEFAULT_PORT : Number(port) % 65536;
  return { kind: 'tcp', host, port: n };
}

/** sizeof(struct sockaddr_un.sun_path) */
const SUN_PATH_MAX = 108;

/**
 * unix_listen_saddr()'s length check, made when the listener opens (after
 * "NBD server already running"): the path need not be NUL-terminated, an
 * abstract name leaves room for the leading NUL.
 */
export function checkListenPath(a: NbdListenAddress): void {
  if (a.kind !== 'unix') return;
  const len = Buffer.byteLength(a.path);
  if (len > SUN_PATH_MAX || (a.abstract === true && len > SUN_PATH_MAX - 1)) {
    throw QmpError.generic(`UNIX socket path '${a.path}' is too long`);
  }
}

export function fromSocketAddress(a: SocketAddress): NbdListenAddress {
  switch (a.type) {
    case 'unix':
      return { kind: 'unix', path: a.path, abstract: a.abstract ?? false };
    case 'inet':
      return inet(a.host, a.port, a);
    case 'fd':
      throw QmpError.generic('only QEMU supports file descriptor passing');
    default:
      throw QmpError.generic(`Socket address type '${a.type}' is not supported by qmpd`);
  }
}

export function fromLegacyAddress(a: SocketAddressLegacy): NbdListenAddress {
  switch (a.type) {
    case 'unix':
      return { kind: 'unix', path: a.data.path, abstract: a.data.abstract ?? false };
    case 'inet':
      return inet(a.data.host, a.data.port, a.data);
    case 'fd':
      throw QmpError.generic('only QEMU supports file descriptor passing');
    default:
      throw QmpError.generic(`Socket address type '${a.type}' is not supported by qmpd`);
  }
}
