/**
 * Which options each node takes in a blockdev-reopen, as QEMU 7.2 works them
 * out (bdrv_reopen_queue_child). Options are flattened ("cache.direct") and in
 * the order QEMU's QDicts hold them. For every node, in order of precedence:
 * the options given; its own explicit options, kept when it is named by
 * reference; what it inherits from its parent; its old effective options,
 * again only when kept. A child opened inline (one that inherits from its
 * parent) is queued after it, with the options given for it inline, or its old
 * ones when the parent names it by reference.
 */
import { isDict, newDict, type QDict, type QValue } from '../qmp/json/value.js';
import { typeNodes, type ObjectNode, type TypeNode } from '../qapi/type-nodes.js';
import type { BlockNode } from './node.js';

/** Flattened options in QDict insertion order. */
export type FlatOptions = Map<string, QValue>;

/** One node's part in a reopen (QEMU's BDRVReopenState before prepare). */
export interface ReopenEntry {
  readonly node: BlockNode;
  /** Every option the node is to have. */
  options: FlatOptions;
  /** Those given or kept explicitly (bs->explicit_options after the commit). */
  explicit: FlatOptions;
  /** BDRV_O_UNMAP before `discard` is read: the node's own, or its parent's for a child. */
  unmap: boolean;
  /** Neither `backing` nor `backing.*` given (only looked at for nodes not kept as they were). */
  backingMissing: boolean;
}

/** `on`, `true`: QEMU's QemuOpts booleans as options carry them (typed, or as text once inherited). */
export function optionFlag(options: FlatOptions, key: string): boolean {
  const v = options.get(key);
  return v === true || v === 'on';
}

/** qdict_flatten(): nested dicts and lists become dotted keys; empty ones stay as values. */
export function flattenOptions(d: QDict, prefix = '', out: FlatOptions = new Map()): FlatOptions {
  for (const [key, value] of Object.entries(d)) flattenValue(prefix + key, value, out);
  return out;
}

function flattenValue(key: string, value: QValue, out: FlatOptions): void {
  if (isDict(value) && Object.keys(value).length > 0) flattenOptions(value, key + '.', out);
  else if (Array.isArray(value) && value.length > 0) value.forEach((v, i) => flattenValue(`${key}.${i}`, v, out));
  else out.set(key, value);
}

/** The nested form of flattened options (no lists: the drivers qmpd has take none). */
export function nestOptions(options: FlatOptions): QDict {
  const out = newDict();
  for (const [key, value] of options) {
    const path = key.split('.');
    let at = out;
    for (const part of path.slice(0, -1)) {
      const next = at[part];
      at = isDict(next) ? next : (at[part] = newDict());
    }
    at[path.at(-1)!] = value;
  }
  return out;
}

/**
 * `d` with its members in the order the QAPI type lists them, as QEMU's output
 * visitor builds the QDict that blockdev-reopen flattens (insertion order
 * decides the order of same-bucket keys, so of QEMU's first error).
 */
export function inSchemaOrder(d: QDict, type: TypeNode | undefined = blockdevOptionsType()): QDict {
  const object = type?.kind === 'alternate' ? type.dict : type?.kind === 'object' ? type : undefined;
  if (!object) return d;
  const branch = object.tag !== undefined ? object.variants?.get(d[object.tag] as string) : undefined;
  const members = [...object.members, ...(branch?.members ?? [])];
  const out = newDict();
  for (const m of members) {
    const v = d[m.name];
    if (v !== undefined) out[m.name] = isDict(v) ? inSchemaOrder(v, m.type) : v;
  }
  for (const [key, v] of Object.entries(d)) if (!(key in out)) out[key] = v;
  return out;
}

let blockdevOptions: ObjectNode | undefined;
function blockdevOptionsType(): ObjectNode {
  return (blockdevOptions ??= typeNodes().byName.get('BlockdevOptions') as ObjectNode);
}

/** Children opened inline for a node (QEMU's inherits_from): their options are theirs. */
function inlineChildren(node: BlockNode): string[] {
  return [...node.children.values()].filter((e) => e.child.inheritsFrom === node).map((e) => e.edgeName);
}

/** bs->explicit_options: the node's own options, without those of children opened inline. */
export function explicitOptions(node: BlockNode): FlatOptions {
  const own = flattenOptions(inSchemaOrder(node.options));
  for (const child of inlineChildren(node)) {
    for (const key of [...own.keys()]) if (key.startsWith(child + '.')) own.delete(key);
  }
  return own;
}

/** bs->options: the explicit options and the effective flags QEMU writes back at open. */
function effectiveOptions(node: BlockNode): FlatOptions {
  const own = explicitOptions(node);
  setDefault(own, 'cache.direct', node.cache.direct);
  setDefault(own, 'cache.no-flush', node.cache.noFlush);
  setDefault(own, 'read-only', node.readOnly);
  setDefault(own, 'auto-read-only', false);
  return own;
}

function setDefault(options: FlatOptions, key: string, value: QValue): void {
  if (!options.has(key)) options.set(key, value);
}

function copyDefault(child: FlatOptions, parent: FlatOptions, key: string): void {
  const v = parent.get(key);
  if (v !== undefined) setDefault(child, key, v);
}

/** bdrv_join_options(): what `from` has and `into` lacks. */
function join(into: FlatOptions, from: FlatOptions): void {
  for (const [key, value] of from) setDefault(into, key, value);
}

/** bdrv_inherited_options() for a file or backing child of a format node. */
function inherit(role: string, child: FlatOptions, parent: FlatOptions): void {
  copyDefault(child, parent, 'cache.direct');
  copyDefault(child, parent, 'cache.no-flush');
  if (role === 'backing') {
    // backing files are read-only unless said otherwise
    setDefault(child, 'read-only', 'on');
    setDefault(child, 'auto-read-only', 'off');
  } else {
    copyDefault(child, parent, 'read-only');
    copyDefault(child, parent, 'auto-read-only');
  }
  setDefault(child, 'discard', 'unmap');
}

/** Moves the `prefix.*` options out of `options` (qdict_extract_subqdict). */
function extract(options: FlatOptions, prefix: string): FlatOptions {
  const out: FlatOptions = new Map();
  for (const [key, value] of options) {
    if (!key.startsWith(prefix)) continue;
    out.set(key.slice(prefix.length), value);
    options.delete(key);
  }
  return out;
}

interface ParentOptions {
  readonly entry: ReopenEntry;
  readonly role: string;
}

/** Queues `node` (and its inline children) with `given` options; `keepOld` keeps what it had. */
export function queueReopen(
  queue: ReopenEntry[],
  node: BlockNode,
  given: FlatOptions | undefined,
  parent?: ParentOptions,
  keepOld = false,
): void {
  const queued = queue.find((e) => e.node === node);
  const options: FlatOptions = given ?? new Map();
  if (queued || keepOld) join(options, queued ? queued.explicit : explicitOptions(node));
  const explicit = new Map(options);
  if (parent) inherit(parent.role, options, parent.entry.options);
  if (keepOld) join(options, effectiveOptions(node));
  const entry: ReopenEntry = {
    node,
    options,
    explicit,
    unmap: parent ? parent.entry.unmap : node.unmap,
    backingMissing: !keepOld && !options.has('backing') && !options.has('backing.driver'),
  };
  if (queued) Object.assign(queued, entry);
  else queue.push(entry);

  // bs->children: newest first
  for (const edge of [...node.children.values()].reverse()) {
    if (edge.child.inheritsFrom !== node) continue;
    let childGiven: FlatOptions | undefined;
    let childKeepOld = keepOld;
    if (options.has(edge.edgeName)) {
      // a reference to the child it has reopens that child with its old options; any other leaves it be
      if (options.get(edge.edgeName) !== edge.child.nodeName) continue;
      childKeepOld = true;
    } else {
      extract(explicit, edge.edgeName + '.');
      childGiven = extract(options, edge.edgeName + '.');
    }
    queueReopen(queue, edge.child, childGiven, { entry: queued ?? entry, role: edge.edgeName }, childKeepOld);
  }
}
