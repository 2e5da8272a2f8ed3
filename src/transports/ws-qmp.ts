/**
 * The QMP dialect of a WebSocket: one QmpSession, one JSON message per text
 * frame in both directions. The session is the same as on the unix socket;
 * only the framing differs (no CR LF: the frame is the message boundary).
 */
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { QmpSession } from '../qmp/session.js';
import type { StreamSessionOptions } from './stream.js';
import { CloseCode, type WsFlow } from './ws-flow.js';

/** Messages end in CR LF on byte streams; a frame needs no terminator. */
function stripLineEnd(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text;
}

export function attachWsQmpSession(ws: WebSocket, flow: WsFlow, options: StreamSessionOptions, log: Logger): QmpSession {
  const session = new QmpSession({
    ...options,
    io: {
      write: (text) => flow.send(stripLineEnd(text)),
      writeMessage: (json) => flow.send(json),
      pause: () => flow.pauseInput(),
      resume: () => flow.resumeInput(),
      cork: () => flow.cork(),
      uncork: () => flow.uncork(),
    },
  });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      ws.close(CloseCode.UnsupportedData, 'binary frames are not supported: send one JSON message per text frame');
      return;
    }
    session.feedMessage(data as Buffer);
  });
  ws.on('close', () => session.close());
  ws.on('error', (err) => log.debug({ err }, 'websocket error'));
  session.start();
  return session;
}
