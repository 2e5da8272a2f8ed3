// Serves one raw file through qmpd's NbdServer (from dist/) on a unix socket,
// for scripts/bench/nbd.mjs. Usage: node nbd-serve.mjs FILE SOCKET NAME
// Prints "ready" on stdout once listening; SIGTERM closes the server.
import { read as fsRead, write as fsWrite } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from './lib.mjs';

const { NbdServer } = await import(join(REPO, 'dist/block/exports/nbd/server.js'));

const [file, socket, name] = process.argv.slice(2);
const fh = await open(file, 'r+');
const { size } = await fh.stat();
const fd = fh.fd;

// Callback fs calls: measurably cheaper per request than FileHandle's promise methods.
const preadAt = (buf, at, len, pos) => new Promise((res, rej) => fsRead(fd, buf, at, len, pos, (e, n) => (e ? rej(e) : res(n))));
const pwriteAt = (buf, at, len, pos) => new Promise((res, rej) => fsWrite(fd, buf, at, len, pos, (e, n) => (e ? rej(e) : res(n))));

// The same backend as test/helpers/nbd-backends.ts FileBackend, reduced to what the bench uses.
const backend = {
  name,
  writable: true,
  bitmaps: [],
  allocationDepthEnabled: false,
  size: () => size,
  async read(offset, buf) {
    let done = 0;
    while (done < buf.length) {
      const bytesRead = await preadAt(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) return void buf.fill(0, done);
      done += bytesRead;
    }
  },
  async write(offset, data, fua) {
    let done = 0;
    while (done < data.length) {
      const bytesWritten = await pwriteAt(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    if (fua) await fh.datasync();
  },
  async writeZeroes(offset, length) {
    await this.write(offset, Buffer.alloc(length), false);
  },
  async trim() {},
  async flush() {
    await fh.datasync();
  },
  async blockStatus(_offset, length) {
    return [{ length, hole: false, zero: false }];
  },
};

const server = await NbdServer.start({ address: { kind: 'unix', path: socket } });
server.addExport(backend);
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await server.close();
  await fh.close();
  process.exit(0);
});
