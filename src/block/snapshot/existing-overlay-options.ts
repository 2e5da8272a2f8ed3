/**
 * The options that QEMU's bdrv_open(snapshot-file, {driver: format}) amounts
 * to for blockdev-snapshot-sync in mode existing, with its errors in its
 * order: the format driver is looked up first ("Unknown driver"); a protocol
 * driver named as the format takes the name itself (its own prefix rules),
 * a format driver gets it as its file child, read as a filename string
 * (protocol prefixes, 'file:' stripped, empty meaning none).
 */
import { QmpError } from '../../qmp/error.js';
import { newDict, type QDict } from '../../qmp/json/value.js';
import { parseProtocolFilename, unsupportedProtocol } from '../protocol-filename.js';
import { isKnownFormat } from './overlay-file.js';

const NULL_DRIVERS = new Set(['null-co', 'null-aio']);

/** A protocol node's options for `name` read by `driver` (file or null-*), as its parse_filename would. */
function protocolOptions(driver: string, name: string): QDict {
  const o = newDict();
  o.driver = driver;
  if (NULL_DRIVERS.has(driver)) {
    // null_co_parse_filename() accepts only its own URL, which carries no options
    if (name !== `${driver}://`) throw QmpError.generic(`The only allowed filename for this driver is '${driver}://'`);
    return o;
  }
  const filename = name.startsWith('file:') ? name.slice('file:'.length) : name;
  if (filename === '') throw QmpError.generic("The 'file' block driver requires a file name");
  o.filename = filename;
  return o;
}

export function existingOverlayOptions(format: string, snapshotFile: string, nodeName: string | undefined): QDict {
  if (!isKnownFormat(format)) throw QmpError.generic(`Unknown driver '${format}'`);
  let opts: QDict;
  if (format === 'file' || NULL_DRIVERS.has(format)) {
    opts = protocolOptions(format, snapshotFile);
  } else {
    opts = newDict();
    opts.driver = format;
    const protocol = parseProtocolFilename(snapshotFile);
    if (protocol.driver !== 'file' && !NULL_DRIVERS.has(protocol.driver)) throw unsupportedProtocol(protocol);
    opts.file = protocolOptions(protocol.driver, snapshotFile);
    opts.backing = null;
  }
  if (nodeName !== undefined) opts['node-name'] = nodeName;
  return opts;
}
