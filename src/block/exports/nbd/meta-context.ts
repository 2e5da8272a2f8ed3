/**
 * Metadata contexts: which of base:allocation, qemu:allocation-depth and
 * qemu:dirty-bitmap:NAME a query selects, with QEMU's rules:
 *  - "base:allocation" and "qemu:allocation-depth" select themselves (the
 *    latter only when the export enables it); "qemu:dirty-bitmap:NAME" selects
 *    an exported bitmap by exact name;
 *  - an empty leaf ("base:", "qemu:", "qemu:dirty-bitmap:") means "all of
 *    them" in LIST and nothing in SET; LIST with no query lists everything;
 *  - anything else, in any namespace, is ignored.
 * Ids are fixed per export: 0 base:allocation, 1 allocation-depth, 2+i the
 * i-th bitmap; LIST replies carry id 0.
 */
import type { ExportEntry } from './export-table.js';

export const META_ID_BASE_ALLOCATION = 0;
export const META_ID_ALLOCATION_DEPTH = 1;
export const META_ID_DIRTY_BITMAP = 2;

const BASE = 'base:';
const BASE_ALLOCATION = 'allocation';
const QEMU = 'qemu:';
const ALLOCATION_DEPTH = 'allocation-depth';
const DIRTY_BITMAP = 'dirty-bitmap:';

export class MetaSelection {
  base = false;
  depth = false;
  readonly bitmaps: boolean[];

  constructor(readonly entry: ExportEntry) {
    this.bitmaps = entry.backend.bitmaps.map(() => false);
  }

  get count(): number {
    let n = (this.base ? 1 : 0) + (this.depth ? 1 : 0);
    for (const b of this.bitmaps) if (b) n++;
    return n;
  }

  /** Everything the export offers (LIST without queries). */
  selectAll(): void {
    this.base = true;
    this.selectAllQemu();
  }

  private selectAllQemu(): void {
    this.depth = this.entry.backend.allocationDepthEnabled;
    this.bitmaps.fill(true);
  }

  /** Applies one query, given as its raw bytes. */
  apply(queryBytes: Buffer, list: boolean): void {
    // latin1 keeps bytes as they are: names are matched bytewise, like QEMU's strcmp.
    const query = queryBytes.toString('latin1');
    if (query.startsWith(BASE)) {
      const leaf = query.slice(BASE.length);
      if (leaf === BASE_ALLOCATION || (leaf === '' && list)) this.base = true;
      return;
    }
    if (!query.startsWith(QEMU)) return;
    const leaf = query.slice(QEMU.length);
    if (leaf === '') {
      if (list) this.selectAllQemu();
      return;
    }
    if (leaf === ALLOCATION_DEPTH) {
      this.depth = this.entry.backend.allocationDepthEnabled;
      return;
    }
    if (!leaf.startsWith(DIRTY_BITMAP)) return;
    const name = leaf.slice(DIRTY_BITMAP.length);
    if (name === '') {
      if (list) this.bitmaps.fill(true);
      return;
    }
    const names = this.entry.backend.bitmaps;
    for (let i = 0; i < names.length; i++) {
      if (Buffer.from(names[i]!, 'utf8').toString('latin1') === name) {
        this.bitmaps[i] = true;
        return;
      }
    }
  }

  /** The selected contexts in QEMU's reply order, with their ids. */
  contexts(): { id: number; name: string }[] {
    const out: { id: number; name: string }[] = [];
    if (this.base) out.push({ id: META_ID_BASE_ALLOCATION, name: 'base:allocation' });
    if (this.depth) out.push({ id: META_ID_ALLOCATION_DEPTH, name: 'qemu:allocation-depth' });
    const names = this.entry.backend.bitmaps;
    for (let i = 0; i < names.length; i++) {
      if (this.bitmaps[i]) out.push({ id: META_ID_DIRTY_BITMAP + i, name: `qemu:dirty-bitmap:${names[i]}` });
    }
    return out;
  }
}
