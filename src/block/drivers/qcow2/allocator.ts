/**
 * Host cluster allocation (docs/qcow2-format.md §10). Hands out clusters whose
 * refcount is 0, lowest first, and raises their refcount in the refcount
 * cache before anything can point at them. Missing refcount blocks are
 * created after the run being allocated (as QEMU places them), and the search
 * is retried because a new block may take a cluster of the run.
 * Every method must be called with the image's metadata mutex held.
 */
import type { ChildIo } from '../driver.js';
import { qcow2Errors as E } from './errors.js';
import type { Refcounts } from './refcount.js';
import { growRefcountTable } from './reftable-grow.js';

export interface ClusterRun {
  /** first cluster index */
  start: number;
  count: number;
}

export class Allocator {
  /**
   * Where the next search starts, as QEMU's free_cluster_index: just past the
   * last run handed out (free holes skipped on the way stay unused until a
   * release lowers it below them), and at the lowest cluster released since.
   */
  freeIndex = 0;
  /** Counts allocations, so caches of host data can tell that a cluster may have been reused. */
  generation = 0;

  constructor(
    readonly refs: Refcounts,
    readonly file: ChildIo,
    /** Called after the refcount table moved (the header already points at it). */
    private readonly onTableMoved: () => void,
  ) {}

  /** First run of free clusters at or after `from`: exactly `n` long if `exact`, else 1..n. */
  async findFree(from: number, n: number, exact: boolean): Promise<ClusterRun> {
    const refs = this.refs;
    const per = refs.perBlock;
    let start = -1;
    let len = 0;
    let c = from;
    for (;;) {
      const index = Math.floor(c / per);
      const base = index * per;
      const off = refs.blockOffset(index);
      const block = off === 0 ? undefined : (refs.blocks.peek(off) ?? (await refs.blocks.get(off)));
      for (const end = base + per; c < end; c++) {
        if (block === undefined || refs.read(block, c - base) === 0) {
          if (start < 0) {
            start = c;
            len = 0;
          }
          if (++len === n) return { start, count: len };
        } else if (start >= 0) {
          if (!exact) return { start, count: len };
          start = -1;
        }
      }
    }
  }

  /** Allocates up to `n` contiguous clusters (exactly `n` if `exact`), refcount 1 each. */
  async allocate(n: number, exact = false): Promise<ClusterRun> {
    const refs = this.refs;
    const per = refs.perBlock;
    for (;;) {
      const run = await this.findFree(this.freeIndex, n, exact);
      const last = run.start + run.count - 1;
      let missing = -1;
      for (let i = Math.floor(run.start / per); i <= Math.floor(last / per); i++) {
        if (refs.blockOffset(i) === 0) {
          missing = i;
          break;
        }
      }
      if (missing >= 0) {
        await this.createBlock(missing, last + 1);
        continue;
      }
      this.generation++;
      for (let c = run.start; c <= last; ) {
        const index = Math.floor(c / per);
        const block = await refs.blocks.getForUpdate(refs.blockOffset(index));
        for (const end = Math.min(last + 1, (index + 1) * per); c < end; c++) {
          const i = c - index * per;
          if (refs.read(block, i) !== 0) throw E.corrupt(`cluster ${c} was allocated twice`);
          refs.write(block, i, 1);
        }
      }
      this.freeIndex = last + 1;
      return run;
    }
  }

  /**
   * Allocates up to `n` clusters starting exactly at `start`, as many as are
   * free there (0 if `start` is in use), without moving the search start
   * (QEMU's qcow2_alloc_clusters_at, which continues a run into the next L2
   * table). Only clusters whose refcount block exists are taken.
   */
  async allocateAt(start: number, n: number): Promise<number> {
    const refs = this.refs;
    const per = refs.perBlock;
    let count = 0;
    while (count < n) {
      const c = start + count;
      const off = refs.blockOffset(Math.floor(c / per));
      if (off === 0) break;
      const block = refs.blocks.peek(off) ?? (await refs.blocks.get(off));
      if (refs.read(block, c % per) !== 0) break;
      count++;
    }
    if (count === 0) return 0;
    this.generation++;
    for (let c = start; c < start + count; c++) {
      const block = await refs.blocks.getForUpdate(refs.blockOffset(Math.floor(c / per)));
      refs.write(block, c % per, 1);
    }
    return count;
  }

  /**
   * Creates refcount block `index`, placed at the first free cluster at or
   * after `searchFrom`: it describes itself if it falls in its own range,
   * otherwise its refcount goes into the block that covers it.
   * (Same placement as QEMU, so created images match byte for byte.)
   */
  private async createBlock(index: number, searchFrom: number): Promise<void> {
    const refs = this.refs;
    if (index >= refs.tableEntries) {
      const old = await growRefcountTable(refs, this.file, index);
      this.onTableMoved();
      await this.release(old.start, old.count);
      return;
    }
    const b = (await this.findFree(searchFrom, 1, false)).start;
    const bIndex = Math.floor(b / refs.perBlock);
    const block = Buffer.alloc(refs.clusterSize);
    if (bIndex === index) refs.write(block, b % refs.perBlock, 1);
    refs.blocks.insertNew(b * refs.clusterSize, block);
    refs.setBlockOffset(index, b * refs.clusterSize);
    if (bIndex === index) return;
    // the block's own refcount lives in another block, which may itself need creating (after b)
    while (refs.blockOffset(bIndex) === 0) await this.createBlock(bIndex, b + 1);
    await refs.adjust(b, 1);
  }

  /** Drops one reference from each cluster of the run (the references are gone on disk). */
  async release(start: number, count: number): Promise<void> {
    for (let c = start; c < start + count; c++) {
      const v = await this.refs.adjust(c, -1);
      if (v === 0 && c < this.freeIndex) this.freeIndex = c;
    }
  }
}
