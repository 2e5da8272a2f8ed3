/**
 * A cursor over the data of one option request. Every read reports a short
 * option (QEMU: "Inconsistent lengths in option …") by returning undefined
 * instead of throwing, so that the option handler can answer ERR_INVALID and
 * the handshake goes on.
 */
import { NBD_MAX_STRING_SIZE } from './constants.js';

export type StringRead =
  | { ok: true; bytes: Buffer }
  | { ok: false; reason: 'short' | 'too-long' | 'nul'; length: number };

export class OptionReader {
  private pos = 0;

  constructor(private readonly data: Buffer) {}

  get remaining(): number {
    return this.data.length - this.pos;
  }

  u16(): number | undefined {
    if (this.remaining < 2) return undefined;
    const v = this.data.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number | undefined {
    if (this.remaining < 4) return undefined;
    const v = this.data.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer | undefined {
    if (this.remaining < n) return undefined;
    const v = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): boolean {
    if (this.remaining < n) return false;
    this.pos += n;
    return true;
  }

  /** A u32 length + string with QEMU's checks: at most 4096 bytes, no NUL. */
  name(): StringRead {
    const len = this.u32();
    if (len === undefined) return { ok: false, reason: 'short', length: 0 };
    if (len > NBD_MAX_STRING_SIZE) return { ok: false, reason: 'too-long', length: len };
    const bytes = this.bytes(len);
    if (bytes === undefined) return { ok: false, reason: 'short', length: len };
    if (bytes.includes(0)) return { ok: false, reason: 'nul', length: len };
    return { ok: true, bytes };
  }
}
