/**
 * Encoders for everything the server sends: option replies in the handshake,
 * simple replies and structured reply chunks in transmission. Headers are
 * written in place so that a READ reply can be one buffer: the data buffer is
 * allocated with room for its header in front (READ_HEADROOM) and goes to the
 * socket in a single write, without a copy.
 */
import { takeBuffer } from './buffer-pool.js';
import {
  CHUNK_HEADER_SIZE,
  NBD_REP_MAGIC_HI,
  NBD_REP_MAGIC_LO,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  OPTION_REPLY_HEADER_SIZE,
  READ_CHUNK_PREFIX_SIZE,
  SIMPLE_REPLY_SIZE,
} from './constants.js';

/** Bytes reserved in front of READ data: room for an OFFSET_DATA chunk header or a simple reply. */
export const READ_HEADROOM = READ_CHUNK_PREFIX_SIZE;

const TWO_32 = 0x1_0000_0000;

/** Writes a non-negative integer below 2^53 as a big-endian u64. */
export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

// --- Handshake ------------------------------------------------------------------

/** An option reply: 20-byte header + payload. */
export function optionReply(option: number, type: number, payload?: Buffer): Buffer {
  const len = payload ? payload.length : 0;
  const buf = Buffer.allocUnsafe(OPTION_REPLY_HEADER_SIZE + len);
  buf.writeUInt32BE(NBD_REP_MAGIC_HI, 0);
  buf.writeUInt32BE(NBD_REP_MAGIC_LO, 4);
  buf.writeUInt32BE(option >>> 0, 8);
  buf.writeUInt32BE(type >>> 0, 12);
  buf.writeUInt32BE(len, 16);
  if (payload) payload.copy(buf, OPTION_REPLY_HEADER_SIZE);
  return buf;
}

export function optionErrorReply(option: number, type: number, message: string): Buffer {
  return optionReply(option, type, Buffer.from(message, 'utf8'));
}

// --- Transmission -----------------------------------------------------------------

/** Request handle as two u32 halves: opaque 8 bytes, echoed without interpretation. */
export interface Handle {
  handleHi: number;
  handleLo: number;
}

export function writeSimpleHeader(buf: Buffer, at: number, error: number, h: Handle): void {
  buf.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, at);
  buf.writeUInt32BE(error, at + 4);
  buf.writeUInt32BE(h.handleHi, at + 8);
  buf.writeUInt32BE(h.handleLo, at + 12);
}

export function writeChunkHeader(
  buf: Buffer,
  at: number,
  flags: number,
  type: number,
  h: Handle,
  length: number,
): void {
  buf.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, at);
  buf.writeUInt16BE(flags, at + 4);
  buf.writeUInt16BE(type, at + 6);
  buf.writeUInt32BE(h.handleHi, at + 8);
  buf.writeUInt32BE(h.handleLo, at + 12);
  buf.writeUInt32BE(length, at + 16);
}

export function simpleReply(error: number, h: Handle): Buffer {
  const buf = Buffer.allocUnsafe(SIMPLE_REPLY_SIZE);
  writeSimpleHeader(buf, 0, error, h);
  return buf;
}

/** A buffer of READ_HEADROOM + length bytes; the backend fills `data`. */
export function allocReadBuffer(length: number): { whole: Buffer; data: Buffer } {
  const whole = takeBuffer(READ_HEADROOM + length);
  return { whole, data: whole.subarray(READ_HEADROOM) };
}

/** Completes a headroom buffer as a simple reply carrying the data; returns the bytes to send. */
export function finishSimpleRead(whole: Buffer, h: Handle): Buffer {
  const at = READ_HEADROOM - SIMPLE_REPLY_SIZE;
  writeSimpleHeader(whole, at, 0, h);
  return at === 0 ? whole : whole.subarray(at);
}

/** Completes a headroom buffer as one OFFSET_DATA chunk holding all of the data. */
export function finishDataChunk(whole: Buffer, h: Handle, offset: number, done: boolean): Buffer {
  writeChunkHeader(whole, 0, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_OFFSET_DATA, h, whole.length - CHUNK_HEADER_SIZE);
  writeU64(whole, offset, CHUNK_HEADER_SIZE);
  return whole;
}

/** The header (chunk header + offset) of an OFFSET_DATA chunk whose data is sent separately. */
export function dataChunkHeader(h: Handle, offset: number, length: number, done: boolean): Buffer {
  const buf = Buffer.allocUnsafe(READ_CHUNK_PREFIX_SIZE);
  writeChunkHeader(buf, 0, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_OFFSET_DATA, h, 8 + length);
  writeU64(buf, offset, CHUNK_HEADER_SIZE);
  return buf;
}

export function holeChunk(h: Handle, offset: number, length: number, done: boolean): Buffer {
  const buf = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + 12);
  writeChunkHeader(buf, 0, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_OFFSET_HOLE, h, 12);
  writeU64(buf, offset, CHUNK_HEADER_SIZE);
  buf.writeUInt32BE(length, CHUNK_HEADER_SIZE + 8);
  return buf;
}

/** The final NONE chunk: success with nothing more to say (zero-length READ). */
export function noneChunk(h: Handle): Buffer {
  const buf = Buffer.allocUnsafe(CHUNK_HEADER_SIZE);
  writeChunkHeader(buf, 0, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, h, 0);
  return buf;
}

/** An ERROR chunk with DONE, carrying QEMU's message text. */
export function errorChunk(h: Handle, error: number, message: string): Buffer {
  const msgLen = Buffer.byteLength(message, 'utf8');
  const buf = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + 6 + msgLen);
  writeChunkHeader(buf, 0, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, h, 6 + msgLen);
  buf.writeUInt32BE(error, CHUNK_HEADER_SIZE);
  buf.writeUInt16BE(msgLen, CHUNK_HEADER_SIZE + 4);
  buf.write(message, CHUNK_HEADER_SIZE + 6, 'utf8');
  return buf;
}

/** A BLOCK_STATUS chunk for one context; `pairs` holds (length, flags) pairs. */
export function blockStatusChunk(h: Handle, contextId: number, pairs: readonly number[], done: boolean): Buffer {
  const payload = 4 + pairs.length * 4;
  const buf = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + payload);
  writeChunkHeader(buf, 0, done ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_BLOCK_STATUS, h, payload);
  buf.writeUInt32BE(contextId, CHUNK_HEADER_SIZE);
  let at = CHUNK_HEADER_SIZE + 4;
  for (const v of pairs) {
    buf.writeUInt32BE(v, at);
    at += 4;
  }
  return buf;
}
