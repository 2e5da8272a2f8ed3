#!/usr/bin/env node
/**
 * Command line → running daemon. The only place that calls process.exit.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type OptionSpec, type ParsedOption, UsageError } from './cli/args.js';
import { USAGE } from './cli/usage.js';
import { applyOption, type StartupState } from './cli/apply.js';
import { startDefaultRun } from './cli/default-run.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { QmpError } from './qmp/error.js';
import { QMPD_VERSION, QEMU_API_VERSION } from './version.js';
import { describeErrno } from './util/errno.js';

const PROGRAM = 'qmpd';

// Image I/O runs on libuv's thread pool: the default 4 threads would cap an NBD
// client at queue depth 4 and serialize the overlays of a transaction.
process.env.UV_THREADPOOL_SIZE ??= '32';

const OPTIONS: readonly OptionSpec[] = [
  { long: 'blockdev', hasArg: true },
  { long: 'chardev', hasArg: true },
  { long: 'daemonize', hasArg: false },
  { long: 'drive', hasArg: true },
  { long: 'export', hasArg: true },
  { long: 'help', short: 'h', hasArg: false },
  { long: 'http', hasArg: true },
  { long: 'http-allow-origin', hasArg: true },
  { long: 'http-token-file', hasArg: true },
  { long: 'log-level', hasArg: true },
  { long: 'monitor', hasArg: true },
  { long: 'nbd-server', hasArg: true },
  { long: 'object', hasArg: true },
  { long: 'pidfile', hasArg: true },
  { long: 'state-dir', hasArg: true },
  { long: 'trace', short: 'T', hasArg: true },
  { long: 'version', short: 'V', hasArg: false },
];

function fail(message: string): never {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  let options: ParsedOption[];
  try {
    options = parseArgs(argv, OPTIONS);
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  }
  if (options.some((o) => o.name === 'help')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (options.some((o) => o.name === 'version')) {
    const q = QEMU_API_VERSION;
    process.stdout.write(`${PROGRAM} version ${QMPD_VERSION} (QMP of QEMU ${q.major}.${q.minor})\n`);
    process.exit(0);
  }
  const logLevel = options.findLast((o) => o.name === 'log-level')?.value;
  const log = createLogger(logLevel);
  const daemon = new Daemon({ log, greetAfterStartup: true });
  const state: StartupState = { daemon, chardevs: new Map(), usedChardevs: new Set(), log };

  const configOnly = new Set(['log-level', 'state-dir', 'daemonize', 'trace']);
  const defaultRun = options.every((o) => configOnly.has(o.name) && o.name !== 'daemonize');
  let pidfile: string | undefined;
  try {
    if (defaultRun) {
      const stateDir = resolve(options.findLast((o) => o.name === 'state-dir')?.value ?? 'qmpd-state');
      const lines = await startDefaultRun(daemon, stateDir);
      process.stdout.write(lines.join('\n') + '\n');
    } else {
      for (const opt of drivesAfterBlockdevs(options)) {
        if (opt.name === 'pidfile') {
          pidfile = opt.value!;
          continue;
        }
        try {
          await applyOption(state, opt);
        } catch (err) {
          if (err instanceof QmpError) fail(`${opt.typed} ${opt.value ?? ''}: ${err.desc}`);
          throw err;
        }
      }
    }
    if (pidfile !== undefined) writePidfile(pidfile);
    daemon.started();
  } catch (err) {
    await daemon.shutdown();
    throw err;
  }

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'signal received');
    void daemon.shutdown();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  await daemon.stopped;
  if (pidfile !== undefined) removeQuietly(pidfile);
  process.exit(0);
}

/**
 * QEMU's system emulator opens every -blockdev before any -drive, whatever their
 * order on the command line; node creation order (query-named-block-nodes) shows it.
 */
function drivesAfterBlockdevs(options: readonly ParsedOption[]): ParsedOption[] {
  const lastBlockdev = options.findLastIndex((o) => o.name === 'blockdev');
  const out: ParsedOption[] = [];
  const deferred: ParsedOption[] = [];
  options.forEach((o, i) => {
    if (o.name === 'drive' && i < lastBlockdev) deferred.push(o);
    else out.push(o);
    if (i === lastBlockdev) out.push(...deferred);
  });
  return out;
}

function writePidfile(path: string): void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    fail(`cannot create PID file: Could not create '${path}': ${describeErrno(e)}`);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone: nothing to clean up
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${PROGRAM}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
