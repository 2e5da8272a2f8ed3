/**
 * NBD wire constants: magics, option and command codes, flags, errno values
 * and the limits qmpd enforces. Values are those of the NBD protocol
 * specification (doc/proto.md); names and texts follow QEMU 7.2's server,
 * whose behaviour we mirror (see ../shared/docs/nbd-protocol.md).
 */

// --- Magics -----------------------------------------------------------------

/** "NBDMAGIC", first 8 bytes of the greeting. */
export const NBD_INIT_MAGIC = Buffer.from('NBDMAGIC', 'latin1');
/** "IHAVEOPT": newstyle greeting and the prefix of every option request. */
export const NBD_OPTS_MAGIC_HI = 0x49484156;
export const NBD_OPTS_MAGIC_LO = 0x454f5054;
/** Option reply magic 0x0003e889045565a9. */
export const NBD_REP_MAGIC_HI = 0x0003e889;
export const NBD_REP_MAGIC_LO = 0x045565a9;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// --- Handshake flags ----------------------------------------------------------

export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;
/** QEMU offers both handshake flags (observed `00 03`). */
export const SERVER_HANDSHAKE_FLAGS = NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES;

// --- Options ------------------------------------------------------------------

export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

/** Option names as QEMU 7.2 prints them in error texts (4 and 11 are '<unknown>' there). */
const OPTION_NAMES: Readonly<Record<number, string>> = {
  [NBD_OPT_EXPORT_NAME]: 'export name',
  [NBD_OPT_ABORT]: 'abort',
  [NBD_OPT_LIST]: 'list',
  [NBD_OPT_STARTTLS]: 'starttls',
  [NBD_OPT_INFO]: 'info',
  [NBD_OPT_GO]: 'go',
  [NBD_OPT_STRUCTURED_REPLY]: 'structured reply',
  [NBD_OPT_LIST_META_CONTEXT]: 'list meta context',
  [NBD_OPT_SET_META_CONTEXT]: 'set meta context',
};

export function optionName(option: number): string {
  return OPTION_NAMES[option] ?? '<unknown>';
}

// --- Option replies -----------------------------------------------------------

export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
export const NBD_REP_ERR_UNSUP = 0x80000001;
export const NBD_REP_ERR_POLICY = 0x80000002;
export const NBD_REP_ERR_INVALID = 0x80000003;
export const NBD_REP_ERR_UNKNOWN = 0x80000006;
export const NBD_REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
export const NBD_REP_ERR_TOO_BIG = 0x80000009;

export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// --- Transmission flags ---------------------------------------------------------

export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_CACHE = 1 << 10;
export const NBD_FLAG_SEND_FAST_ZERO = 1 << 11;

// --- Commands -------------------------------------------------------------------

export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

const COMMAND_NAMES: readonly string[] = [
  'read',
  'write',
  'disconnect',
  'flush',
  'trim',
  'cache',
  'write zeroes',
  'block status',
];

export function commandName(type: number): string {
  return COMMAND_NAMES[type] ?? '<unknown>';
}

export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3;
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

// --- Replies --------------------------------------------------------------------

export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5;
export const NBD_REPLY_TYPE_ERROR = 0x8001;

/** base:allocation extent flags */
export const NBD_STATE_HOLE = 1 << 0;
export const NBD_STATE_ZERO = 1 << 1;
/** qemu:dirty-bitmap:NAME extent flag */
export const NBD_STATE_DIRTY = 1 << 0;

// --- Error values ---------------------------------------------------------------

export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

// --- Sizes of wire structures ---------------------------------------------------

export const GREETING_SIZE = 18;
export const CLIENT_FLAGS_SIZE = 4;
export const OPTION_HEADER_SIZE = 16;
export const OPTION_REPLY_HEADER_SIZE = 20;
export const REQUEST_HEADER_SIZE = 28;
export const SIMPLE_REPLY_SIZE = 16;
export const CHUNK_HEADER_SIZE = 20;
/** Chunk header + u64 offset: what precedes the data of an OFFSET_DATA chunk. */
export const READ_CHUNK_PREFIX_SIZE = CHUNK_HEADER_SIZE + 8;
/** EXPORT_NAME reply: u64 size, u16 flags, 124 zero bytes unless NO_ZEROES. */
export const EXPORT_NAME_REPLY_SIZE = 134;
export const EXPORT_NAME_REPLY_SHORT_SIZE = 10;

// --- Limits ---------------------------------------------------------------------

/** Largest READ/WRITE/CACHE length and option length QEMU accepts (NBD_MAX_BUFFER_SIZE). */
export const NBD_MAX_BUFFER_SIZE = 32 * 1024 * 1024;
/** Longest export name, description or query string (NBD_MAX_STRING_SIZE). */
export const NBD_MAX_STRING_SIZE = 4096;
/** Option data we hold in memory to parse; larger known options get ERR_TOO_BIG (QEMU streams them). */
export const MAX_BUFFERED_OPTION = 1024 * 1024;
/** QEMU caps a BLOCK_STATUS chunk at 1 MiB of extents (NBD_MAX_BLOCK_STATUS_EXTENTS). */
export const MAX_BLOCK_STATUS_EXTENTS = (1024 * 1024) / 8;
/** Requests processed at once per connection; QEMU's MAX_NBD_REQUESTS. */
export const MAX_REQUESTS_IN_FLIGHT = 16;
/** Payload bytes (READ/WRITE buffers) held per connection before reading stops, one request always admitted. */
export const MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024;
/** Queued reply bytes above which a connection stops reading requests until the socket drains. */
export const OUTPUT_HIGH_WATER = 8 * 1024 * 1024;
/** Chunks a sparse READ may be split into; the rest of the range goes out as data. */
export const MAX_READ_CHUNKS = 256;
/** QEMU (with the CVE-2024-7409 fix) drops a client that has not finished the handshake in 10 s. */
export const HANDSHAKE_MAX_SECONDS = 10;
/** QEMU advertises the block layer's alignment only to clients that ask; 1 otherwise. */
export const PREFERRED_BLOCK_SIZE = 4096;
/** QEMU rounds the advertised export size down to whole sectors. */
export const EXPORT_SIZE_ALIGNMENT = 512;
/** Default of nbd-server-start's max-connections in this QEMU 7.2 build. */
export const DEFAULT_MAX_CONNECTIONS = 100;
/** Accepted sockets kept waiting (no greeting) while the server is full, as QEMU leaves them in its backlog. */
export const MAX_WAITING_CONNECTIONS = 64;
/** Longest export name shown in an error reply; QEMU cuts at 80 characters and appends '...'. */
export const ERROR_NAME_CUT = 80;
