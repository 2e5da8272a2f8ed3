/**
 * Which leftover key QEMU reports as unexpected. qobject_input_check_struct()
 * takes the first key of a GLib GHashTable (g_str_hash) that held every key
 * of the object (inserted in QDict order) minus the ones the visit consumed
 * (removed in visiting order). This replays GLib 2.74's open addressing,
 * tombstones and resizes (ghash.c) to find that first key.
 */
import { qdictOrder } from '../qmp/qdict-order.js';

const MIN_SHIFT = 3;
const PRIME_MOD = [1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139];
const UNUSED = 0;
const TOMBSTONE = 1;

/** g_str_hash: djb2 over *signed* chars, then GLib reserves 0 and 1. */
function strHash(key: string): number {
  let h = 5381;
  for (const b of Buffer.from(key, 'utf8')) h = (Math.imul(h, 33) + (b >= 0x80 ? b - 0x100 : b)) >>> 0;
  return h < 2 ? 2 : h;
}

class GHashSim {
  private shift = MIN_SHIFT;
  private hashes: number[] = [];
  private keys: (string | undefined)[] = [];
  private nnodes = 0;
  private noccupied = 0;

  constructor() {
    this.setShift(MIN_SHIFT);
  }

  private get size(): number {
    return 1 << this.shift;
  }

  private setShift(shift: number): void {
    this.shift = shift;
  }

  private toIndex(hash: number): number {
    return (Math.imul(hash, 11) >>> 0) % PRIME_MOD[this.shift]!;
  }

  private lookupForInsert(key: string, hash: number): number {
    let i = this.toIndex(hash);
    let step = 0;
    let tomb = -1;
    const mask = this.size - 1;
    while (this.hashes[i] !== UNUSED && this.hashes[i] !== undefined) {
      if (this.hashes[i] === hash && this.keys[i] === key) return i;
      if (this.hashes[i] === TOMBSTONE && tomb < 0) tomb = i;
      step++;
      i = (i + step) & mask;
    }
    return tomb >= 0 ? tomb : i;
  }

  insert(key: string): void {
    if (this.hashes.length === 0) this.hashes = new Array<number>(this.size).fill(UNUSED);
    const hash = strHash(key);
    const i = this.lookupForInsert(key, hash);
    const old = this.hashes[i]!;
    if (old >= 2) return;
    this.hashes[i] = hash;
    this.keys[i] = key;
    this.nnodes++;
    if (old === UNUSED) {
      this.noccupied++;
      this.maybeResize();
    }
  }

  remove(key: string): void {
    const hash = strHash(key);
    let i = this.toIndex(hash);
    let step = 0;
    const mask = this.size - 1;
    while (this.hashes[i] !== UNUSED) {
      if (this.hashes[i] === hash && this.keys[i] === key) {
        this.hashes[i] = TOMBSTONE;
        this.keys[i] = undefined;
        this.nnodes--;
        this.maybeResize();
        return;
      }
      step++;
      i = (i + step) & mask;
    }
  }

  private maybeResize(): void {
    const size = this.size;
    const occ = this.noccupied;
    if ((size > this.nnodes * 4 && size > 1 << MIN_SHIFT) || size <= occ + Math.trunc(occ / 16)) this.resize();
  }

  /** g_hash_table_resize(): new shift from nnodes*1.333, then the in-place eviction rehash. */
  private resize(): void {
    const oldSize = this.size;
    let n = Math.trunc(this.nnodes * 1.333);
    let shift = 0;
    while (n) {
      n >>= 1;
      shift++;
    }
    this.setShift(Math.max(shift, MIN_SHIFT));
    const size = this.size;
    const hashes = this.hashes.slice();
    const keys = this.keys.slice();
    while (hashes.length < size) {
      hashes.push(UNUSED);
      keys.push(undefined);
    }
    const placed = new Array<boolean>(size).fill(false);
    const mask = size - 1;
    for (let i = 0; i < oldSize; i++) {
      let h = hashes[i]!;
      if (h < 2) {
        hashes[i] = UNUSED;
        continue;
      }
      if (placed[i]) continue;
      hashes[i] = UNUSED;
      let k = keys[i];
      keys[i] = undefined;
      for (;;) {
        let j = this.toIndex(h);
        let step = 0;
        while (placed[j]) {
          step++;
          j = (j + step) & mask;
        }
        placed[j] = true;
        const replacedHash = hashes[j]!;
        const replacedKey = keys[j];
        hashes[j] = h;
        keys[j] = k;
        if (replacedHash < 2) break;
        h = replacedHash;
        k = replacedKey;
      }
    }
    this.hashes = hashes.slice(0, size);
    this.keys = keys.slice(0, size);
    this.noccupied = this.nnodes;
  }

  first(): string | undefined {
    for (let i = 0; i < this.size; i++) if (this.hashes[i]! >= 2) return this.keys[i];
    return undefined;
  }
}

/** `keys` in parse order; `consumed` in visiting order. Some key must be left over. */
export function firstUnexpectedKey(keys: readonly string[], consumed: ReadonlySet<string>): string {
  const sim = new GHashSim();
  for (const k of qdictOrder(keys)) sim.insert(k);
  for (const k of consumed) sim.remove(k);
  const first = sim.first();
  if (first !== undefined) return first;
  // Unreachable if the replay is right; never report a consumed key.
  return keys.find((k) => !consumed.has(k))!;
}
