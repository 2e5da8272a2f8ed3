/**
 * A byte stream (unix or TCP socket) carrying one QMP session. Only moves
 * bytes; backpressure both ways: a slow reader pauses our reading, and a
 * session with a full request queue pauses the socket.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { QmpSession, type SessionOptions } from '../qmp/session.js';

/** Output queued in the socket past which we stop reading requests from it. */
export const OUTPUT_HIGH_WATER = 4 * 1024 * 1024;

/** Replies held for one write at most; a long burst still sends its first replies early. */
const MAX_HELD_REPLIES = 32;

export type StreamSessionOptions = Omit<SessionOptions, 'io'>;

export function attachStreamSession(socket: Socket, options: StreamSessionOptions, log: Logger): QmpSession {
  let sessionPaused = false;
  let outputPaused = false;
  // Replies finished in the same tick (a pipelined burst) leave in one write, not one each.
  let held: string[] = [];
  const flush = () => {
    if (held.length === 0 || socket.destroyed) return;
    const text = held.length === 1 ? held[0]! : held.join('');
    held = [];
    socket.write(text);
    if (!outputPaused && socket.writableLength > OUTPUT_HIGH_WATER) {
      outputPaused = true;
      updateFlow();
    }
  };
  const updateFlow = () => {
    if (sessionPaused || outputPaused) socket.pause();
    else socket.resume();
  };
  const session = new QmpSession({
    ...options,
    io: {
      write: (text) => {
        if (socket.destroyed) return;
        held.push(text);
        if (held.length === 1) process.nextTick(flush);
        else if (held.length >= MAX_HELD_REPLIES) flush();
      },
      pause: () => {
        sessionPaused = true;
        updateFlow();
      },
      resume: () => {
        sessionPaused = false;
        updateFlow();
      },
      cork: () => socket.cork(),
      uncork: () => socket.uncork(),
    },
  });
  socket.on('drain', () => {
    if (outputPaused) {
      outputPaused = false;
      updateFlow();
    }
  });
  socket.on('data', (chunk: Buffer) => session.feed(chunk));
  // A client that half-closes (socat at EOF of its input) still gets every reply.
  socket.on('end', () =>
    session.whenIdle(() => {
      flush();
      socket.end();
    }),
  );
  socket.on('close', () => session.close());
  socket.on('error', (err) => log.debug({ err }, 'monitor connection error'));
  session.start();
  return session;
}
