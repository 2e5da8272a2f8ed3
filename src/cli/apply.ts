/**
 * Applies one command-line option to a starting daemon. Options are applied
 * in order, as QSD does; errors are QmpErrors whose text the CLI prefixes
 * with the option as typed.
 */
import type { Logger } from 'pino';
import type { Daemon } from '../daemon.js';
import { QmpError } from '../qmp/error.js';
import type { ListenAddress } from '../transports/socket-listener.js';
import type { ParsedOption } from './args.js';
import { optsBool, parseQemuOpts } from './qemu-opts.js';
import { blockdevAdd, driveAdd, type DriveOptions } from '../block/blockdev.js';
import { parseOptionArgument } from '../qapi/keyval.js';
import type { NbdServerOptions } from '../qapi/generated/types.js';
import { fromSocketAddress } from '../block/exports/address.js';
import type { ExportOptions } from '../block/exports/manager.js';

export interface StartupState {
  readonly daemon: Daemon;
  readonly chardevs: Map<string, ListenAddress>;
  readonly usedChardevs: Set<string>;
  readonly log: Logger;
}

export async function applyOption(state: StartupState, opt: ParsedOption): Promise<void> {
  const value = opt.value ?? '';
  switch (opt.name) {
    case 'chardev':
      return addChardev(state, value);
    case 'monitor':
      return addMonitor(state, value);
    case 'object':
      return addObject(state, value);
    case 'blockdev':
      await blockdevAdd(state.daemon.graph, parseOptionArgument('BlockdevOptions', value, 'driver'));
      return;
    case 'drive':
      await driveAdd(state.daemon.graph, parseDrive(value));
      return;
    case 'nbd-server': {
      const o = parseOptionArgument('NbdServerOptions', value) as unknown as NbdServerOptions;
      await state.daemon.exports.startNbd(() => fromSocketAddress(o.addr), o['max-connections'], o['tls-creds']);
      return;
    }
    case 'export':
      await state.daemon.exports.add(parseOptionArgument('BlockExportOptions', value, 'type') as unknown as ExportOptions);
      return;
    case 'http':
    case 'http-token-file':
    case 'http-allow-origin':
      // loaded only when asked for: fastify and ws cost ~0.15 s of startup
      return (await import('../transports/http-cli.js')).applyHttpOption(state.daemon, opt.name, value);
    case 'log-level':
    case 'state-dir':
    case 'trace':
    case 'daemonize':
      return;
    default:
      throw QmpError.generic(`option --${opt.name} is not supported yet`);
  }
}

/** Keys of a socket chardev that QemuOpts knows; the ones qmpd acts on are read below. */
const CHARDEV_SOCKET_KEYS = new Set([
  'backend', 'id', 'path', 'host', 'port', 'server', 'wait', 'nodelay', 'ipv4', 'ipv6', 'to',
  'telnet', 'tn3270', 'websocket', 'reconnect', 'abstract', 'tight', 'logfile', 'logappend', 'mux',
]);

function addChardev(state: StartupState, text: string): void {
  const opts = parseQemuOpts(text, 'backend');
  const backend = opts.get('backend') ?? '';
  for (const key of opts.keys()) {
    if (!CHARDEV_SOCKET_KEYS.has(key)) throw QmpError.generic(`Invalid parameter '${key}'`);
  }
  const id = opts.get('id');
  if (!id) throw QmpError.generic('chardev: no id specified');
  if (backend !== 'socket') {
    throw QmpError.generic(
      ['null', 'file', 'pipe', 'stdio', 'pty', 'ringbuf', 'udp'].includes(backend)
        ? `chardev backend '${backend}' cannot carry a qmpd monitor`
        : `'${backend}' is not a valid char driver name`,
    );
  }
  if (state.chardevs.has(id)) throw QmpError.generic(`Duplicate ID '${id}' for chardev`);
  if (optsBool(opts, 'websocket', false)) throw QmpError.generic('websocket=on is served by --http in qmpd');
  if (!optsBool(opts, 'server', false)) throw QmpError.generic('qmpd monitors need a listening socket (server=on)');
  const path = opts.get('path');
  const host = opts.get('host');
  let address: ListenAddress;
  if (path !== undefined) {
    address = { kind: 'unix', path };
  } else if (host !== undefined || opts.has('port')) {
    const port = Number(opts.get('port') ?? '');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw QmpError.generic(`Parameter 'port' expects a number 0..65535`);
    }
    address = { kind: 'tcp', host: host ?? '0.0.0.0', port };
  } else {
    throw QmpError.generic('Unable to parse FD number ');
  }
  state.chardevs.set(id, address);
}

async function addMonitor(state: StartupState, text: string): Promise<void> {
  const opts = parseOptionArgument('MonitorOptions', text, 'chardev') as {
    chardev: string;
    mode?: string;
    pretty?: boolean;
    id?: string;
  };
  const address = state.chardevs.get(opts.chardev);
  if (!address) throw QmpError.generic(`chardev "${opts.chardev}" not found`);
  if ((opts.mode ?? 'control') !== 'control') throw QmpError.generic('Only QMP is supported');
  if (state.usedChardevs.has(opts.chardev)) throw QmpError.generic(`Device '${opts.chardev}' is in use`);
  state.usedChardevs.add(opts.chardev);
  await state.daemon.addMonitor(opts.id ?? opts.chardev, address, opts.pretty ?? false);
}

function addObject(state: StartupState, text: string): void {
  const opts = parseOptionArgument('ObjectOptions', text, 'qom-type') as { 'qom-type': string; id: string };
  if (opts['qom-type'] !== 'iothread') {
    throw QmpError.generic(`Object type '${opts['qom-type']}' is not supported by qmpd`);
  }
  state.daemon.exports.registerIothread(opts.id);
  state.log.info({ id: opts.id }, 'iothread object recorded (qmpd runs one event loop)');
}

const DRIVE_KEYS = new Set(['file', 'if', 'id', 'format', 'node-name', 'read-only']);

/** --drive file=...,if=none,id=ID[,format=F][,node-name=N][,read-only=on|off] */
function parseDrive(text: string): DriveOptions {
  const opts = parseQemuOpts(text, '');
  for (const key of opts.keys()) {
    if (!DRIVE_KEYS.has(key)) throw QmpError.generic(`Invalid parameter '${key}'`);
  }
  const iface = opts.get('if') ?? 'none';
  if (iface !== 'none') throw QmpError.generic(`qmpd has no guest devices: only if=none drives are supported`);
  const id = opts.get('id');
  if (id === undefined) throw QmpError.generic("Parameter 'id' is missing");
  return {
    id,
    file: opts.get('file'),
    format: opts.get('format'),
    nodeName: opts.get('node-name'),
    readOnly: optsBool(opts, 'read-only', false),
  };
}
