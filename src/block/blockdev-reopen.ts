/**
 * blockdev-reopen as QEMU 7.2 runs it (qmp_blockdev_reopen, bdrv_reopen_multiple):
 * every listed node and its inline children are queued with the options they
 * are to have (reopen-queue.ts); each is prepared in queue order, with QEMU's
 * checks and texts; then the graph switches in one drained, permission-checked
 * step (reopen.ts) and the nodes take their new options: read-only state,
 * cache mode, discard, detect-zeroes, the driver's own (a raw window), and
 * another `file` or `backing` child. Any error leaves every node as it was.
 */
import { QmpError } from '../qmp/error.js';
import type { QDict, QValue } from '../qmp/json/value.js';
import { qdictOrder } from '../qmp/qdict-order.js';
import type { GraphChange } from './graph-change.js';
import type { BlockGraph } from './graph.js';
import { closeUnused } from './lifecycle.js';
import type { BlockNode } from './node.js';
import type { CacheMode } from './open.js';
import { reopenNodes } from './reopen.js';
import {
  explicitOptions,
  flattenOptions,
  inSchemaOrder,
  nestOptions,
  optionFlag,
  queueReopen,
  type FlatOptions,
  type ReopenEntry,
} from './reopen-queue.js';

/** Generic options bdrv_reopen_prepare takes itself. */
const GENERIC_OPTIONS = ['read-only', 'auto-read-only', 'cache.direct', 'cache.no-flush', 'discard', 'detect-zeroes'];
/** Generic options it reads and puts back as text: they must stay as they are. */
const GENERIC_AS_TEXT = ['node-name', 'driver', 'force-share'];
/** Explicit options any node may leave out in a reopen (bdrv_reset_options_allowed). */
const RESETTABLE = new Set(['node-name', 'discard', 'cache.direct', 'cache.no-flush', 'read-only', 'auto-read-only', 'detect-zeroes']);
/** Members that name children: looked at as children, never compared as options. */
const CHILD_OPTIONS = new Set(['file', 'backing']);

/** What one node becomes when the reopen commits. */
interface PreparedReopen {
  readonly entry: ReopenEntry;
  readonly readOnly: boolean;
  readonly cache: CacheMode;
  readonly unmap: boolean;
  /** A new child for a role (null: none), when it changes. */
  readonly children: Map<'file' | 'backing', BlockNode | null>;
  readonly commitDriver: (() => void) | undefined;
}

/** `key` is `option` or one of its flattened members (`overlap-check.template`). */
function covers(options: readonly string[] | undefined, key: string): boolean {
  return options?.some((o) => key === o || key.startsWith(o + '.')) ?? false;
}

/** QemuOpts hands a value back as text: it equals only an old value that is that text. */
function asText(v: QValue): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return String(v);
}

function sameOption(asked: QValue, now: QValue | undefined, textual: boolean): boolean {
  if (textual) return typeof now === 'string' && asText(asked) === now;
  return now !== undefined && JSON.stringify(asked) === JSON.stringify(now);
}

/** bdrv_reopen_parse_file_or_backing(): the child that `role` names now, if another. */
function newChild(graph: BlockGraph, node: BlockNode, role: 'file' | 'backing', value: QValue | undefined): BlockNode | null | undefined {
  if (value === undefined) return undefined;
  let target: BlockNode | null = null;
  if (typeof value === 'string') {
    target = graph.lookup(undefined, value);
    const below = [target];
    for (let n = below.pop(); n; n = below.pop()) {
      if (n === node) throw QmpError.generic(`Making '${value}' a ${role} child of '${node.nodeName}' would create a cycle`);
      for (const e of n.children.values()) below.push(e.child);
    }
  }
  return target === (node.children.get(role)?.child ?? null) ? undefined : target;
}

/** bdrv_reopen_prepare(): QEMU's checks, in its order, for one queued node. */
function prepare(graph: BlockGraph, entry: ReopenEntry): PreparedReopen {
  const { node, options } = entry;
  const driver = node.driver;
  // what is left once each part has taken its options, in QDict insertion order
  const rest: FlatOptions = new Map(options);
  for (const key of [...GENERIC_OPTIONS, ...GENERIC_AS_TEXT]) rest.delete(key);
  const discard = options.get('discard');
  const unmap = discard === undefined ? entry.unmap : discard === 'unmap' || discard === 'on';
  if (options.get('detect-zeroes') === 'unmap' && !unmap) {
    throw QmpError.generic('setting detect-zeroes to unmap is not allowed without setting discard operation to unmap');
  }
  for (const key of GENERIC_AS_TEXT) if (options.has(key)) rest.set(key, options.get(key)!);

  for (const key of qdictOrder([...explicitOptions(node).keys()])) {
    if (options.has(key) || RESETTABLE.has(key) || CHILD_OPTIONS.has(key.split('.')[0]!)) continue;
    if (covers(driver.mutableOptions, key)) continue;
    throw QmpError.generic(`Option '${key}' cannot be reset to its default value`);
  }
  const own: FlatOptions = new Map([...rest].filter(([key]) => !GENERIC_AS_TEXT.includes(key) && !CHILD_OPTIONS.has(key.split('.')[0]!)));
  const commitDriver = node.instance.prepareReopen?.(nestOptions(own)) ?? undefined;
  for (const key of [...rest.keys()]) {
    if (covers(driver.reopenOptions, key)) rest.delete(key);
    else if (covers(driver.reopenOptionsAsText, key)) {
      // read and given back, as the newest entry
      const v = rest.get(key)!;
      rest.delete(key);
      rest.set(key, v);
    }
  }

  if (driver.supportsBacking && entry.backingMissing && (node.backing || node.backingFile !== '')) {
    throw QmpError.generic(`backing is missing for '${node.nodeName}'`);
  }
  const children = new Map<'file' | 'backing', BlockNode | null>();
  for (const role of ['backing', 'file'] as const) {
    if (role === 'backing' && !driver.supportsBacking) continue;
    const child = newChild(graph, node, role, rest.get(role));
    if (child !== undefined) children.set(role, child);
    rest.delete(role);
  }

  const old = explicitOptions(node);
  for (const key of qdictOrder([...rest.keys()])) {
    const asked = rest.get(key)!;
    // a reference to the child the node has is no change
    if (typeof asked === 'string' && node.children.get(key)?.child.nodeName === asked) continue;
    const textual = GENERIC_AS_TEXT.includes(key) || covers(driver.reopenOptionsAsText, key);
    if (!sameOption(asked, old.get(key), textual)) throw QmpError.generic(`Cannot change the option '${key}'`);
  }
  return {
    entry,
    readOnly: optionFlag(options, 'read-only'),
    cache: { direct: optionFlag(options, 'cache.direct'), noFlush: optionFlag(options, 'cache.no-flush') },
    unmap,
    children,
    commitDriver,
  };
}

/** The graph edits of the prepared nodes: another file child takes the same edge, a backing one a new edge. */
function editChildren(change: GraphChange, prepared: readonly PreparedReopen[]): void {
  for (const p of prepared) {
    const node = p.entry.node;
    for (const [role, child] of p.children) {
      const edge = node.children.get(role);
      if (edge && child) change.retarget(edge, child, true);
      else if (edge) change.detach(edge);
      if (!edge && child) change.attach(node, role, child);
    }
  }
}

export function blockdevReopen(graph: BlockGraph, list: QDict[]): Promise<void> {
  return graph.mutex.run(async () => {
    const queue: ReopenEntry[] = [];
    for (const opts of list) {
      const name = opts['node-name'] as string | undefined;
      if (name === undefined) throw QmpError.generic('node-name not specified');
      const node = graph.findNode(name);
      if (!node) throw QmpError.generic(`Failed to find node with node-name='${name}'`);
      queueReopen(queue, node, flattenOptions(inSchemaOrder(opts)));
    }
    const prepared = queue.map((entry) => prepare(graph, entry));
    const dropped = prepared.flatMap((p) => [...p.children.keys()].flatMap((role) => p.entry.node.children.get(role)?.child ?? []));
    await reopenNodes(
      graph,
      prepared.map((p) => ({ node: p.entry.node, readOnly: p.readOnly })),
      (change) => editChildren(change, prepared),
      dropped,
    );
    // bdrv_reopen_commit(), last queued first
    for (const p of [...prepared].reverse()) {
      const node = p.entry.node;
      node.cache = p.cache;
      node.unmap = p.unmap;
      node.replaceOptions(nestOptions(p.entry.explicit));
      p.commitDriver?.();
    }
    // bdrv_set_file_or_backing_noperm(): a child replaced no longer inherits from the node
    for (const old of dropped) {
      const parent = old.inheritsFrom;
      if (parent && ![...parent.children.values()].some((e) => e.child === old)) old.inheritsFrom = undefined;
    }
    await closeUnused(graph, dropped);
  });
}
