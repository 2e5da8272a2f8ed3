/** Parses JSON text with qmpd's own parser, so numbers keep QEMU's int/double distinction. */
import { QmpError } from '../../../src/qmp/error.js';
import { JsonStreamer } from '../../../src/qmp/json/streamer.js';
import { isDict, type QDict, type QValue } from '../../../src/qmp/json/value.js';

export function parseQmpJson(text: string): QValue {
  const out: (QValue | QmpError)[] = [];
  const s = new JsonStreamer((m) => out.push(m));
  s.feed(Buffer.from(text, 'utf8'));
  s.end();
  const v = out[0];
  if (out.length !== 1 || v === undefined || v instanceof QmpError) throw new Error(`bad test JSON: ${text}`);
  return v;
}

export function parseDict(text: string): QDict {
  const v = parseQmpJson(text);
  if (!isDict(v)) throw new Error(`not an object: ${text}`);
  return v;
}
