/**
 * The root pino logger. Everything goes to stderr, so stdout stays free for
 * what the daemon prints on purpose (the QMP socket path at start).
 */
import { pino, type Logger, type Level } from 'pino';

export const LOG_LEVEL_ENV = 'QMPD_LOG_LEVEL';
export const DEFAULT_LOG_LEVEL: Level = 'warn';

export function createLogger(level?: string): Logger {
  return pino(
    { name: 'qmpd', level: level ?? process.env[LOG_LEVEL_ENV] ?? DEFAULT_LOG_LEVEL },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** For tests and library use: a logger that writes nothing. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
