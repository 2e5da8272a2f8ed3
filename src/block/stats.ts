/**
 * query-blockstats. QEMU accounts I/O on BlockBackends; a node on its own
 * only knows its highest written offset. Nodes are listed oldest first, each
 * with its file child as `parent` and its backing child as `backing`.
 */
import type { BlockDeviceStats, BlockStats } from '../qapi/generated/types.js';
import type { BlockGraph } from './graph.js';
import type { BlockNode } from './node.js';

function emptyStats(highest: number): BlockDeviceStats {
  // members in QAPI order
  return {
    rd_bytes: 0,
    wr_bytes: 0,
    unmap_bytes: 0,
    rd_operations: 0,
    wr_operations: 0,
    flush_operations: 0,
    unmap_operations: 0,
    rd_total_time_ns: 0,
    wr_total_time_ns: 0,
    flush_total_time_ns: 0,
    unmap_total_time_ns: 0,
    wr_highest_offset: highest,
    rd_merged: 0,
    wr_merged: 0,
    unmap_merged: 0,
    failed_rd_operations: 0,
    failed_wr_operations: 0,
    failed_flush_operations: 0,
    failed_unmap_operations: 0,
    invalid_rd_operations: 0,
    invalid_wr_operations: 0,
    invalid_flush_operations: 0,
    invalid_unmap_operations: 0,
    account_invalid: false,
    account_failed: false,
    timed_stats: [],
  };
}

function nodeStats(node: BlockNode, named: boolean): BlockStats {
  const out: BlockStats = { 'node-name': named ? node.nodeName : undefined, stats: emptyStats(node.wrHighestOffset) };
  if (node.driver.name === 'file') {
    out['driver-specific'] = { driver: 'file', 'discard-nb-ok': 0, 'discard-nb-failed': 0, 'discard-bytes-ok': 0 };
  }
  if (node.file) out.parent = nodeStats(node.file.child, true);
  if (node.backing) out.backing = nodeStats(node.backing.child, true);
  return out;
}

export function queryBlockstats(graph: BlockGraph, queryNodes: boolean): BlockStats[] {
  if (queryNodes) return graph.newestFirst().reverse().map((n) => nodeStats(n, true));
  return [...graph.drives.values()].map((drive) => {
    const s: BlockStats = { device: drive.name, stats: emptyStats(drive.node?.wrHighestOffset ?? 0) };
    if (drive.node) {
      const inner = nodeStats(drive.node, true);
      s['node-name'] = inner['node-name'];
      if (inner.parent) s.parent = inner.parent;
      if (inner.backing) s.backing = inner.backing;
    }
    return s;
  });
}
