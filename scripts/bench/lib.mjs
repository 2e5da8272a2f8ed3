// Shared pieces of `npm run bench`: start qmpd or qemu-storage-daemon side by
// side, a lean QMP client, timing and formatting helpers.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

export async function startDaemon(kind, { args = [], monitors = 1, dir } = {}) {
  const workdir = dir ?? mkdtempSync(join(tmpdir(), `bench-${kind}-`));
  const sockets = [];
  const argv = [];
  for (let i = 0; i < monitors; i++) {
    const path = join(workdir, `qmp${i}.sock`);
    sockets.push(path);
    argv.push('--chardev', `socket,id=m${i},path=${path},server=on,wait=off`, '--monitor', `chardev=m${i}`);
  }
  argv.push(...args);
  const cmd = kind === 'qmpd' ? process.execPath : 'qemu-storage-daemon';
  const cmdArgs = kind === 'qmpd' ? [...(process.env.QMPD_NODE_ARGS ?? '').split(' ').filter(Boolean), join(REPO, 'dist/cli.js'), ...argv] : argv;
  const proc = spawn(cmd, cmdArgs, { cwd: workdir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 10000;
  while (!sockets.every((s) => existsSync(s))) {
    if (proc.exitCode !== null) throw new Error(`${kind} exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`${kind} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    kind,
    dir: workdir,
    sockets,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        // QSD can hang in its cleanup after a pipelined run; the figures are taken by then
        const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await new Promise((r) => proc.on('exit', r));
        clearTimeout(kill);
      }
      if (!dir) rmSync(workdir, { recursive: true, force: true });
    },
  };
}

export function hasQsd() {
  return ['/usr/bin/qemu-storage-daemon', '/usr/local/bin/qemu-storage-daemon'].some((p) => existsSync(p));
}

/** A minimal QMP client: replies in order, events dropped. */
export class Qmp {
  static async open(path) {
    const sock = connect(path);
    await new Promise((r, j) => (sock.once('connect', r), sock.once('error', j)));
    const q = new Qmp(sock);
    await q.next();
    await q.cmd('qmp_capabilities');
    return q;
  }
  constructor(sock) {
    this.sock = sock;
    // bytes of an unfinished line; each byte is scanned once, so a 5 MB answer costs
    // the client linear time (a growing string searched from its start would not)
    this.partial = [];
    this.replies = [];
    this.waiting = [];
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      let start = 0;
      let i;
      while ((i = chunk.indexOf(0x0a, start)) >= 0) {
        const piece = chunk.subarray(start, i);
        start = i + 1;
        let line;
        if (this.partial.length) {
          this.partial.push(piece);
          line = Buffer.concat(this.partial).toString('utf8');
          this.partial = [];
        } else {
          line = piece.toString('utf8');
        }
        this.onLine(line);
      }
      if (start < chunk.length) this.partial.push(chunk.subarray(start));
    });
  }
  onLine(line) {
    // QMP events start with their timestamp (QEMU's member order)
    if (line.startsWith('{"timestamp"')) return;
    const w = this.waiting.shift();
    if (w) w(line);
    else this.replies.push(line);
  }
  next() {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((res) => this.waiting.push(res));
  }
  send(text) {
    this.sock.write(text);
  }
  async cmd(execute, args) {
    this.send(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    const line = await this.next();
    const msg = JSON.parse(line);
    if (msg.error) throw new Error(`${execute}: ${msg.error.desc}`);
    return msg.return;
  }
  /** Sends a command and returns the raw reply line (no parsing: for big answers). */
  async cmdRaw(execute, args) {
    this.send(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    return this.next();
  }
  close() {
    this.sock.end();
  }
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  } catch {
    return NaN;
  }
}

export function fmt(n, digits = 1) {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

/** Prints one comparison line: qmpd, QSD and the ratio in the direction where > 1 is better. */
export function line(label, ours, theirs, unit, higherIsBetter) {
  const ratio = theirs && ours ? (higherIsBetter ? ours / theirs : theirs / ours) : NaN;
  const r = Number.isFinite(ratio) ? `${ratio.toFixed(2)}x ${higherIsBetter ? '' : '(QSD/qmpd)'}` : 'n/a';
  console.log(`  ${label.padEnd(44)} qmpd ${fmt(ours).padStart(10)} ${unit.padEnd(8)} QSD ${fmt(theirs).padStart(10)} ${unit.padEnd(8)} ${r}`);
  return ratio;
}
