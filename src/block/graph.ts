/**
 * The block graph: every node by name (in creation order), the named drives,
 * the anonymous backends of exports, image locks, and the mutex that
 * serializes graph changes between monitors. I/O never takes that mutex.
 */
import type { Logger } from 'pino';
import { AsyncMutex } from '../util/mutex.js';
import type { BlockBackend } from './backend.js';
import { ImageLocks } from './locks.js';
import type { BlockNode } from './node.js';
import { QmpError } from '../qmp/error.js';

/** QEMU keeps node names in a char[32]. */
export const MAX_NODE_NAME = 31;

export const graphErrors = {
  cannotFind: (device: string | undefined, node: string | undefined) =>
    QmpError.generic(`Cannot find device='${device ?? ''}' nor node-name='${node ?? ''}'`),
  noMedium: (device: string) => QmpError.generic(`Device '${device}' has no medium`),
  invalidName: (name: string) => QmpError.generic(`Invalid node-name: '${name}'`),
  nameIsDevice: (name: string) => QmpError.generic(`node-name=${name} is conflicting with a device id`),
  duplicate: (name: string) => QmpError.generic(`Duplicate nodes with node-name='${name}'`),
  nameTooLong: () => QmpError.generic('Node name too long'),
};

/** QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
export function isWellFormedId(id: string): boolean {
  if (!/^[A-Za-z]/.test(id)) return false;
  for (let i = 1; i < id.length; i++) {
    const c = id[i]!;
    if (!/[A-Za-z0-9._-]/.test(c)) return false;
  }
  return true;
}

export class BlockGraph {
  /** Named nodes in creation order (QEMU's graph_bdrv_states). */
  private readonly nodes = new Map<string, BlockNode>();
  /** Named drives (-drive / --drive), by device name. */
  readonly drives = new Map<string, BlockBackend>();
  /** Anonymous backends (exports), for graph queries. */
  readonly anonymous = new Set<BlockBackend>();
  readonly locks = new ImageLocks();
  /** Serializes graph changes from every monitor; never needed by I/O. */
  readonly mutex = new AsyncMutex();
  private autoCounter = 0;

  constructor(readonly log: Logger) {}

  get size(): number {
    return this.nodes.size;
  }

  findNode(name: string): BlockNode | undefined {
    return this.nodes.get(name);
  }

  /** bdrv_lookup_bs(): a drive's root node first, then a node-name. */
  lookup(device: string | undefined, nodeName: string | undefined): BlockNode {
    if (device !== undefined) {
      const drive = this.drives.get(device);
      if (drive) {
        if (!drive.node) throw graphErrors.noMedium(device);
        return drive.node;
      }
    }
    if (nodeName !== undefined) {
      const node = this.nodes.get(nodeName);
      if (node) return node;
    }
    throw graphErrors.cannotFind(device, nodeName);
  }

  /** bdrv_assign_node_name()'s checks, in QEMU's order. */
  checkNewName(name: string): void {
    if (!isWellFormedId(name)) throw graphErrors.invalidName(name);
    if (this.drives.has(name)) throw graphErrors.nameIsDevice(name);
    if (this.nodes.has(name)) throw graphErrors.duplicate(name);
    if (name.length > MAX_NODE_NAME) throw graphErrors.nameTooLong();
  }

  /** "#block" + counter (from 0) + two random digits, as QEMU's id_generate() makes them. */
  autoName(): string {
    let name: string;
    do {
      const random = Math.floor(Math.random() * 100)
        .toString()
        .padStart(2, '0');
      name = `#block${this.autoCounter++}${random}`;
    } while (this.nodes.has(name));
    return name;
  }

  /** Where nodes announce events (BLOCK_WRITE_THRESHOLD); set by the daemon. */
  emit: ((event: string, data: Record<string, unknown>) => void) | undefined;

  add(node: BlockNode): void {
    node.onWriteThreshold = (n, exceeded, threshold) =>
      this.emit?.('BLOCK_WRITE_THRESHOLD', { 'node-name': n.nodeName, 'amount-exceeded': exceeded, 'write-threshold': threshold });
    this.nodes.set(node.nodeName, node);
    this.locks.register(node);
  }

  remove(node: BlockNode): void {
    if (this.nodes.get(node.nodeName) === node) this.nodes.delete(node.nodeName);
    this.locks.unregister(node);
  }

  /** Every named node, newest first (query-named-block-nodes order). */
  newestFirst(): BlockNode[] {
    return [...this.nodes.values()].reverse();
  }

  allNodes(): IterableIterator<BlockNode> {
    return this.nodes.values();
  }
}
