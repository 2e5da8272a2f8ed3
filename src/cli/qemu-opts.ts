/**
 * QemuOpts-style option strings, as --chardev takes them:
 * `[implied-value,]key=value,...` with `,,` standing for a literal comma.
 * (Typed QAPI options such as --blockdev go through qapi/keyval instead.)
 */
import { QmpError } from '../qmp/error.js';

export function parseQemuOpts(text: string, impliedKey: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  let first = true;
  while (pos < text.length) {
    let key = '';
    while (pos < text.length && text[pos] !== '=' && text[pos] !== ',') key += text[pos++];
    let value: string;
    if (text[pos] === '=') {
      pos++;
      value = '';
      while (pos < text.length) {
        if (text[pos] === ',') {
          if (text[pos + 1] !== ',') break;
          pos++;
        }
        value += text[pos++];
      }
    } else if (first && impliedKey) {
      value = key;
      key = impliedKey;
    } else {
      // QemuOpts: a bare "flag" means flag=on, "noflag" means flag=off
      value = key.startsWith('no') && key.length > 2 ? 'off' : 'on';
      if (value === 'off') key = key.slice(2);
    }
    if (key === '') throw QmpError.generic(`Invalid parameter ''`);
    out.set(key, value);
    first = false;
    if (text[pos] === ',') pos++;
  }
  return out;
}

export function optsBool(opts: Map<string, string>, key: string, dflt: boolean): boolean {
  const v = opts.get(key);
  if (v === undefined) return dflt;
  if (v === 'on' || v === 'yes' || v === 'true' || v === 'y') return true;
  if (v === 'off' || v === 'no' || v === 'false' || v === 'n') return false;
  throw QmpError.generic(`Parameter '${key}' expects 'on' or 'off'`);
}
