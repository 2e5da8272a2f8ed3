/**
 * Growing the refcount table (docs/qcow2-format.md §10.1). The new refcount
 * blocks and the new table are placed at the first cluster of the first
 * refcount range nothing covers yet, so they describe themselves. Order:
 * dirty refcount blocks out and flushed; new blocks + table written and
 * flushed; the header switched with one 12-byte write and flushed; only then
 * is the old table's space released.
 */
import type { ChildIo } from '../driver.js';
import { MAX_REFTABLE_BYTES, OFF_REFTABLE } from './constants.js';
import { qcow2Errors as E } from './errors.js';
import type { Refcounts } from './refcount.js';
import { writeTables } from './writeback.js';

/** Grows by about half each time, like QEMU, so repeated growth stays cheap. */
function nextTableClusters(current: number, minEntries: number, clusterSize: number): number {
  const minClusters = Math.ceil((minEntries * 8) / clusterSize);
  let clusters = Math.max(1, current);
  while (clusters < minClusters) clusters = Math.floor((clusters * 3 + 1) / 2);
  return clusters;
}

/** Makes the refcount table cover refcount block `index`. */
export async function growRefcountTable(
  refs: Refcounts,
  file: ChildIo,
  index: number,
): Promise<{ start: number; count: number }> {
  const cs = refs.clusterSize;
  const per = refs.perBlock;
  await writeTables(file, refs.blocks);
  await file.flush();

  const blocksUsed = index + 1;
  let metaBlocks = 0;
  let tableClusters = 0;
  for (;;) {
    tableClusters = nextTableClusters(refs.tableClusters, blocksUsed + metaBlocks, cs);
    const need = Math.ceil((metaBlocks + tableClusters) / per);
    if (need <= metaBlocks) break;
    metaBlocks = need;
  }
  if (tableClusters * cs > MAX_REFTABLE_BYTES) throw E.refcountTableTooLarge();

  const metaStart = blocksUsed * per;
  const metaClusters = metaBlocks + tableClusters;
  const buf = Buffer.alloc(metaClusters * cs);
  for (let m = 0; m < metaClusters; m++) {
    const b = Math.floor(m / per);
    refs.write(buf.subarray(b * cs, (b + 1) * cs), m % per, 1);
  }
  const table = buf.subarray(metaBlocks * cs);
  refs.table.copy(table, 0, 0, Math.min(refs.table.length, table.length));
  for (let b = 0; b < metaBlocks; b++) table.writeBigUInt64BE(BigInt((metaStart + b) * cs), (blocksUsed + b) * 8);
  const newTableOffset = (metaStart + metaBlocks) * cs;

  await file.write(metaStart * cs, buf);
  await file.flush();
  const hdr = Buffer.alloc(12);
  hdr.writeBigUInt64BE(BigInt(newTableOffset), 0);
  hdr.writeUInt32BE(tableClusters, 8);
  await file.write(OFF_REFTABLE, hdr);
  await file.flush();

  const oldStart = refs.tableOffset / cs;
  const oldClusters = refs.tableClusters;
  refs.table = Buffer.from(table);
  refs.tableOffset = newTableOffset;
  refs.tableClusters = tableClusters;
  refs.dirtySectors.clear();
  for (let b = 0; b < metaBlocks; b++) {
    refs.blocks.insertClean((metaStart + b) * cs, Buffer.from(buf.subarray(b * cs, (b + 1) * cs)));
  }
  // the header no longer points at the old table, durably: the caller may free it
  return { start: oldStart, count: oldClusters };
}
