/**
 * Handlers of the fixed-newstyle options, each given the whole option data.
 * Replies, their order and error texts are QEMU 7.2's (nbd/server.c,
 * observed with qemu-storage-daemon); the state machine that calls them is
 * in handshake.ts.
 */
import {
  ERROR_NAME_CUT,
  NBD_FLAG_SEND_DF,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_MAX_BUFFER_SIZE,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST_META_CONTEXT,
  NBD_OPT_SET_META_CONTEXT,
  NBD_REP_ACK,
  NBD_REP_ERR_BLOCK_SIZE_REQD,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  NBD_REP_SERVER,
  PREFERRED_BLOCK_SIZE,
  optionName,
} from './constants.js';
import type { ExportEntry, ExportTable } from './export-table.js';
import { MetaSelection } from './meta-context.js';
import { OptionReader, type StringRead } from './option-reader.js';
import { writeU64 } from './replies.js';

/** What an option handler can see and do; implemented by the handshake. */
export interface OptionContext {
  readonly option: number;
  readonly table: ExportTable;
  readonly structured: boolean;
  meta: MetaSelection | null;
  reply(type: number, payload?: Buffer): void;
  /** An error reply; the handshake goes on. */
  fail(type: number, message: string | Buffer): void;
  /** NBD_OPT_GO succeeded: transmission starts on `entry`. */
  enter(entry: ExportEntry): void;
}

function inconsistent(ctx: OptionContext): void {
  ctx.fail(NBD_REP_ERR_INVALID, `Inconsistent lengths in option ${optionName(ctx.option)}`);
}

export function unexpectedLength(ctx: OptionContext): void {
  ctx.fail(NBD_REP_ERR_INVALID, `option '${optionName(ctx.option)}' has unexpected length`);
}

/** Reports a bad name read; false when the name is unusable. */
function checkName(ctx: OptionContext, read: StringRead): read is { ok: true; bytes: Buffer } {
  if (read.ok) return true;
  if (read.reason === 'too-long') ctx.fail(NBD_REP_ERR_INVALID, `Invalid name length: ${read.length}`);
  else if (read.reason === 'nul') ctx.fail(NBD_REP_ERR_INVALID, `Unexpected embedded NUL in option ${optionName(ctx.option)}`);
  else inconsistent(ctx);
  return false;
}

/** "export 'NAME' not present", the name as raw bytes cut at 80 like QEMU's nbd_sanitize_name(). */
function notPresent(ctx: OptionContext, name: Buffer): void {
  const shown = name.length < ERROR_NAME_CUT ? name : Buffer.concat([name.subarray(0, ERROR_NAME_CUT), Buffer.from('...')]);
  ctx.fail(NBD_REP_ERR_UNKNOWN, Buffer.concat([Buffer.from("export '"), shown, Buffer.from("' not present")]));
}

function info(type: number, data: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(2 + data.length);
  buf.writeUInt16BE(type, 0);
  data.copy(buf, 2);
  return buf;
}

/** Size and flags, as sent in NBD_INFO_EXPORT and after NBD_OPT_EXPORT_NAME. */
export function exportSizeAndFlags(entry: ExportEntry, structured: boolean): Buffer {
  const buf = Buffer.allocUnsafe(10);
  writeU64(buf, entry.size(), 0);
  buf.writeUInt16BE(entry.flags | (structured ? NBD_FLAG_SEND_DF : 0), 8);
  return buf;
}

/** NBD_OPT_INFO and NBD_OPT_GO. */
export function handleInfo(ctx: OptionContext, data: Buffer): void {
  const r = new OptionReader(data);
  const name = r.name();
  if (!checkName(ctx, name)) return;
  const count = r.u16();
  if (count === undefined) return inconsistent(ctx);
  let sendName = false;
  let blockSize = false;
  for (let i = 0; i < count; i++) {
    const request = r.u16();
    if (request === undefined) return inconsistent(ctx);
    if (request === NBD_INFO_NAME) sendName = true;
    else if (request === NBD_INFO_BLOCK_SIZE) blockSize = true;
  }
  if (r.remaining > 0) return unexpectedLength(ctx);

  const entry = ctx.table.find(name.bytes);
  if (!entry) return notPresent(ctx, name.bytes);
  const backend = entry.backend;
  if (sendName) ctx.reply(NBD_REP_INFO, info(NBD_INFO_NAME, name.bytes));
  // QEMU sends the description whenever one is configured, asked for or not.
  if (entry.descriptionBytes) ctx.reply(NBD_REP_INFO, info(NBD_INFO_DESCRIPTION, entry.descriptionBytes));
  // The real alignment only for clients that promise to obey it (or INFO); 1 keeps old clients working.
  const alignment = Math.max(1, backend.requestAlignment ?? 1);
  const minimum = ctx.option === NBD_OPT_INFO || blockSize ? alignment : 1;
  const sizes = Buffer.allocUnsafe(14);
  sizes.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0);
  sizes.writeUInt32BE(minimum, 2);
  sizes.writeUInt32BE(Math.max(PREFERRED_BLOCK_SIZE, minimum), 6);
  sizes.writeUInt32BE(Math.min(backend.maxTransfer ?? NBD_MAX_BUFFER_SIZE, NBD_MAX_BUFFER_SIZE), 10);
  ctx.reply(NBD_REP_INFO, sizes);
  ctx.reply(NBD_REP_INFO, info(NBD_INFO_EXPORT, exportSizeAndFlags(entry, ctx.structured)));
  if (ctx.option === NBD_OPT_INFO && !blockSize && alignment > 1) {
    return ctx.fail(NBD_REP_ERR_BLOCK_SIZE_REQD, 'request NBD_INFO_BLOCK_SIZE to use this export');
  }
  ctx.reply(NBD_REP_ACK);
  if (ctx.option === NBD_OPT_GO) {
    // Contexts negotiated for another export do not carry over (QEMU's nbd_check_meta_export).
    if (ctx.meta && ctx.meta.entry !== entry) ctx.meta = null;
    ctx.enter(entry);
  }
}

/** NBD_OPT_LIST (data already checked to be empty). */
export function handleList(ctx: OptionContext): void {
  for (const entry of ctx.table.all()) {
    const desc = entry.descriptionBytes;
    const buf = Buffer.allocUnsafe(4 + entry.nameBytes.length + (desc ? desc.length : 0));
    buf.writeUInt32BE(entry.nameBytes.length, 0);
    entry.nameBytes.copy(buf, 4);
    if (desc) desc.copy(buf, 4 + entry.nameBytes.length);
    ctx.reply(NBD_REP_SERVER, buf);
  }
  ctx.reply(NBD_REP_ACK);
}

/** NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. */
export function handleMetaContext(ctx: OptionContext, data: Buffer): void {
  const list = ctx.option === NBD_OPT_LIST_META_CONTEXT;
  if (!list && !ctx.structured) {
    return ctx.fail(
      NBD_REP_ERR_INVALID,
      `request option '${optionName(NBD_OPT_SET_META_CONTEXT)}' when structured reply is not negotiated`,
    );
  }
  // SET forgets the previous selection even when it fails, as in QEMU.
  if (!list) ctx.meta = null;
  const r = new OptionReader(data);
  const name = r.name();
  if (!checkName(ctx, name)) return;
  const entry = ctx.table.find(name.bytes);
  if (!entry) return notPresent(ctx, name.bytes);
  const count = r.u32();
  if (count === undefined) return inconsistent(ctx);
  const selection = new MetaSelection(entry);
  if (list && count === 0) selection.selectAll();
  for (let i = 0; i < count; i++) {
    const query = r.name();
    if (query.ok) selection.apply(query.bytes, list);
    else if (query.reason === 'too-long') {
      // Over-long queries are skipped, not refused (QEMU).
      if (!r.skip(query.length)) return inconsistent(ctx);
    } else if (!checkName(ctx, query)) return;
  }
  // QEMU ignores trailing bytes here and then misreads them as the next option; refuse them cleanly instead.
  if (r.remaining > 0) return unexpectedLength(ctx);
  for (const c of selection.contexts()) {
    const nameBytes = Buffer.from(c.name, 'utf8');
    const payload = Buffer.allocUnsafe(4 + nameBytes.length);
    payload.writeUInt32BE(list ? 0 : c.id, 0);
    nameBytes.copy(payload, 4);
    ctx.reply(NBD_REP_META_CONTEXT, payload);
  }
  ctx.reply(NBD_REP_ACK);
  if (!list) ctx.meta = selection;
}
