/** A QDict (the parser's kind of object) with the members of `o`, for options built in tests. */
import { newDict, type QDict } from '../../src/qmp/json/value.js';

export function dict(o: Record<string, unknown>): QDict {
  return Object.assign(newDict(), o) as QDict;
}
