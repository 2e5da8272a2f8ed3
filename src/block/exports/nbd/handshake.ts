/**
 * The fixed-newstyle handshake as a state table (after libnbd's
 * generator/state_machine.ml): each state says how many bytes it waits for
 * and what it does with them. Input arrives in arbitrary chunks; a state's
 * bytes are handed over in place when one chunk holds them, else gathered.
 * Option data is bounded (32 MiB on the wire like QEMU, 1 MiB held in
 * memory), and bytes that follow the final option are passed on to the
 * request parser.
 */
import {
  CLIENT_FLAGS_SIZE,
  EXPORT_NAME_REPLY_SIZE,
  EXPORT_NAME_REPLY_SHORT_SIZE,
  GREETING_SIZE,
  MAX_BUFFERED_OPTION,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_INIT_MAGIC,
  NBD_MAX_BUFFER_SIZE,
  NBD_MAX_STRING_SIZE,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_LIST_META_CONTEXT,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_OPTS_MAGIC_HI,
  NBD_OPTS_MAGIC_LO,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_ERR_UNSUP,
  OPTION_HEADER_SIZE,
  SERVER_HANDSHAKE_FLAGS,
  optionName,
} from './constants.js';
import type { ExportEntry, ExportTable } from './export-table.js';
import type { MetaSelection } from './meta-context.js';
import { exportSizeAndFlags, handleInfo, handleList, handleMetaContext, unexpectedLength, type OptionContext } from './options.js';
import { optionErrorReply, optionReply } from './replies.js';

export interface HandshakeResult {
  entry: ExportEntry;
  structured: boolean;
  /** Contexts selected for `entry`, or null (BLOCK_STATUS then fails with EINVAL). */
  meta: MetaSelection | null;
  /** Bytes received after the final option: the first requests. */
  rest: Buffer | null;
}

export interface HandshakeEvents {
  send(buf: Buffer): void;
  ready(result: HandshakeResult): void;
  /** The connection must close; `reason` is for the log (QEMU's text where it logs one). */
  close(reason: string): void;
  /** True while replies pile up unread: the next option waits until resume(). */
  blocked(): boolean;
}

const enum S {
  ClientFlags,
  OptionHeader,
  OptionData,
  OptionSkip,
  Done,
}

interface StateDef {
  /** Bytes are dropped rather than handed over. */
  readonly discard: boolean;
  run(hs: Handshake, bytes: Buffer): void;
}

/** The table: one entry per state, in the order a session passes through them. */
const STATES: readonly StateDef[] = [
  // ClientFlags: the greeting is out; the client answers with 4 bytes of flags. Unknown bits close.
  { discard: false, run: (hs, b) => hs.onClientFlags(b) },
  // OptionHeader: IHAVEOPT, option number, data length. Bad magic or length > 32 MiB close.
  { discard: false, run: (hs, b) => hs.onOptionHeader(b) },
  // OptionData: the data of an option we act on, held whole (≤ 1 MiB), then dispatched.
  { discard: false, run: (hs, b) => hs.onOptionData(b) },
  // OptionSkip: the data of an option we refuse is dropped unread, then the prepared error goes out.
  { discard: true, run: (hs) => hs.onOptionSkipped() },
  // Done: transmission has started (or the connection is closing); input belongs to someone else.
  { discard: true, run: () => undefined },
];

export class Handshake implements OptionContext {
  private state = S.ClientFlags;
  private need = CLIENT_FLAGS_SIZE;
  private got = 0;
  private gather: Buffer | null = null;
  private fixedNewstyle = false;
  private noZeroes = false;
  private skipReply: Buffer | null = null;
  private result: ExportEntry | null = null;
  private pending: Buffer | null = null;
  option = 0;
  structured = false;
  meta: MetaSelection | null = null;

  constructor(
    readonly table: ExportTable,
    private readonly events: HandshakeEvents,
  ) {}

  static greeting(): Buffer {
    const buf = Buffer.allocUnsafe(GREETING_SIZE);
    NBD_INIT_MAGIC.copy(buf, 0);
    buf.writeUInt32BE(NBD_OPTS_MAGIC_HI, 8);
    buf.writeUInt32BE(NBD_OPTS_MAGIC_LO, 12);
    buf.writeUInt16BE(SERVER_HANDSHAKE_FLAGS, 16);
    return buf;
  }

  get finished(): boolean {
    return this.state === S.Done;
  }

  /** Continues with input held back while blocked. */
  resume(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest) this.push(rest);
  }

  push(chunk: Buffer): void {
    if (this.pending) {
      // Bounded: the connection stops reading while we hold input back.
      this.pending = Buffer.concat([this.pending, chunk]);
      return;
    }
    let pos = 0;
    while (pos < chunk.length && this.state !== S.Done) {
      if (this.state === S.OptionHeader && this.got === 0 && this.events.blocked()) {
        // A client that sends options without reading the replies must not make us queue without bound.
        this.pending = chunk.subarray(pos);
        return;
      }
      const def = STATES[this.state]!;
      const n = Math.min(this.need - this.got, chunk.length - pos);
      if (def.discard) {
        this.got += n;
        pos += n;
        if (this.got === this.need) def.run(this, chunk);
        continue;
      }
      if (this.got === 0 && n === this.need) {
        pos += n;
        def.run(this, chunk.subarray(pos - n, pos));
        continue;
      }
      this.gather ??= Buffer.allocUnsafe(this.need);
      chunk.copy(this.gather, this.got, pos, pos + n);
      this.got += n;
      pos += n;
      if (this.got === this.need) {
        const bytes = this.gather;
        this.gather = null;
        def.run(this, bytes);
      }
    }
    if (this.result) {
      const entry = this.result;
      this.result = null;
      const rest = pos < chunk.length ? chunk.subarray(pos) : null;
      this.events.ready({ entry, structured: this.structured, meta: this.meta, rest });
    }
  }

  private enterState(state: S, need: number): void {
    this.state = state;
    this.need = need;
    this.got = 0;
    this.gather = null;
    if (need === 0) STATES[state]!.run(this, Buffer.alloc(0));
  }

  private closeWith(reason: string): void {
    this.state = S.Done;
    this.events.close(reason);
  }

  onClientFlags(b: Buffer): void {
    let flags = b.readUInt32BE(0);
    this.fixedNewstyle = (flags & NBD_FLAG_C_FIXED_NEWSTYLE) !== 0;
    this.noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) !== 0;
    flags &= ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    if (flags !== 0) return this.closeWith(`Unknown client flags 0x${flags.toString(16)} received`);
    this.enterState(S.OptionHeader, OPTION_HEADER_SIZE);
  }

  onOptionHeader(b: Buffer): void {
    if (b.readUInt32BE(0) !== NBD_OPTS_MAGIC_HI || b.readUInt32BE(4) !== NBD_OPTS_MAGIC_LO) {
      return this.closeWith('Bad magic received');
    }
    const option = b.readUInt32BE(8);
    const length = b.readUInt32BE(12);
    this.option = option;
    if (length > NBD_MAX_BUFFER_SIZE) {
      return this.closeWith(`len (${length} ) is larger than max len (${NBD_MAX_BUFFER_SIZE})`);
    }
    if (!this.fixedNewstyle && option !== NBD_OPT_EXPORT_NAME) {
      // Plain newstyle knows EXPORT_NAME only; QEMU hangs up on anything else.
      return this.closeWith(`Unsupported option ${option} (${optionName(option)})`);
    }
    switch (option) {
      case NBD_OPT_EXPORT_NAME:
        if (length > NBD_MAX_STRING_SIZE) return this.closeWith('Bad length received');
        return this.enterState(S.OptionData, length);
      case NBD_OPT_ABORT:
        // Reply at once, whatever data was announced; the peer may already be gone.
        this.reply(NBD_REP_ACK);
        return this.closeWith('client sent NBD_OPT_ABORT');
      case NBD_OPT_LIST:
      case NBD_OPT_STARTTLS:
      case NBD_OPT_STRUCTURED_REPLY:
        if (length > 0) return this.skipThen(length, null);
        return this.dispatch(Buffer.alloc(0));
      case NBD_OPT_INFO:
      case NBD_OPT_GO:
      case NBD_OPT_LIST_META_CONTEXT:
      case NBD_OPT_SET_META_CONTEXT:
        if (length > MAX_BUFFERED_OPTION) {
          return this.skipThen(length, optionErrorReply(option, NBD_REP_ERR_TOO_BIG, `option '${optionName(option)}' is too big`));
        }
        return this.enterState(S.OptionData, length);
      default:
        return this.skipThen(length, optionErrorReply(option, NBD_REP_ERR_UNSUP, `Unsupported option ${option} (${optionName(option)})`));
    }
  }

  /** Drops `length` data bytes, then sends `reply` (null: "unexpected length"). */
  private skipThen(length: number, reply: Buffer | null): void {
    this.skipReply = reply ?? optionErrorReply(this.option, NBD_REP_ERR_INVALID, `option '${optionName(this.option)}' has unexpected length`);
    this.enterState(S.OptionSkip, length);
  }

  onOptionSkipped(): void {
    const reply = this.skipReply!;
    this.skipReply = null;
    this.events.send(reply);
    this.enterState(S.OptionHeader, OPTION_HEADER_SIZE);
  }

  onOptionData(b: Buffer): void {
    this.dispatch(b);
  }

  private dispatch(data: Buffer): void {
    switch (this.option) {
      case NBD_OPT_EXPORT_NAME:
        return this.exportName(data);
      case NBD_OPT_LIST:
        handleList(this);
        break;
      case NBD_OPT_STARTTLS:
        this.fail(NBD_REP_ERR_POLICY, 'TLS not configured');
        break;
      case NBD_OPT_STRUCTURED_REPLY:
        if (this.structured) this.fail(NBD_REP_ERR_INVALID, 'structured reply already negotiated');
        else {
          this.reply(NBD_REP_ACK);
          this.structured = true;
        }
        break;
      case NBD_OPT_INFO:
      case NBD_OPT_GO:
        handleInfo(this, data);
        break;
      case NBD_OPT_LIST_META_CONTEXT:
      case NBD_OPT_SET_META_CONTEXT:
        handleMetaContext(this, data);
        break;
      default:
        unexpectedLength(this);
    }
    if (this.state !== S.Done) this.enterState(S.OptionHeader, OPTION_HEADER_SIZE);
  }

  /** NBD_OPT_EXPORT_NAME: no option reply; an unknown name can only be answered by hanging up. */
  private exportName(name: Buffer): void {
    const entry = this.table.find(name);
    if (!entry) return this.closeWith('export not found');
    const size = this.noZeroes ? EXPORT_NAME_REPLY_SHORT_SIZE : EXPORT_NAME_REPLY_SIZE;
    const buf = Buffer.alloc(size);
    exportSizeAndFlags(entry, this.structured).copy(buf, 0);
    this.events.send(buf);
    if (this.meta && this.meta.entry !== entry) this.meta = null;
    this.enter(entry);
  }

  // --- OptionContext ---

  reply(type: number, payload?: Buffer): void {
    this.events.send(optionReply(this.option, type, payload));
  }

  fail(type: number, message: string | Buffer): void {
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    this.events.send(optionReply(this.option, type, payload));
  }

  enter(entry: ExportEntry): void {
    this.state = S.Done;
    this.result = entry;
  }
}
