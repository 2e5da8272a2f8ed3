/**
 * A node's filename as QEMU reports it (bdrv_refresh_filename): the file's
 * path when the node is fully described by it, otherwise a `json:{...}`
 * pseudo-filename spelling out the options that matter.
 */
import { encodeJson } from '../qmp/json/encode.js';
import { newDict, type QDict } from '../qmp/json/value.js';
import type { BlockNode } from './node.js';
import { dirname, isAbsolute, join } from 'node:path';

/** path_combine(): a relative backing name is relative to the image's directory. */
export function resolveBackingPath(imageFilename: string, backing: string): string {
  if (isAbsolute(backing) || backing.includes('://') || imageFilename.startsWith('json:')) return backing;
  const dir = dirname(imageFilename);
  return dir === '.' ? backing : join(dir, backing);
}

/** Options that change what a driver shows (QEMU's strong_runtime_opts). */
const STRONG_OPTIONS: Record<string, readonly string[]> = {
  file: ['filename'],
  'null-co': ['size', 'read-zeroes'],
  'null-aio': ['size', 'read-zeroes'],
  raw: ['offset', 'size'],
  qcow2: [],
};

function strongOptions(node: BlockNode): [string, QDict[string]][] {
  const names = STRONG_OPTIONS[node.driver.name] ?? [];
  return names.filter((k) => node.options[k] !== undefined).map((k) => [k, node.options[k]!]);
}

/** path_has_protocol(): a ':' before any '/' ("json:{...}", "nbd:..."). */
function hasProtocol(path: string): boolean {
  const m = /[/:]/.exec(path);
  return m !== null && m[0] === ':';
}

/**
 * bdrv_get_full_backing_filename(): the header's backing name, relative to the
 * image's directory ('' when there is none to give). A name with a protocol
 * (a json: pseudo-filename too) or an absolute one is kept as it is; the
 * directory is that of the file at the bottom of the node's file children
 * (bdrv_dirname()), and a node without a plain file below has none.
 */
export function fullBackingFilename(node: BlockNode): string {
  if (!node.backingFile) return '';
  if (hasProtocol(node.backingFile) || isAbsolute(node.backingFile)) return node.backingFile;
  let bottom = node;
  while (bottom.driver.name !== 'file' && bottom.file) bottom = bottom.file.child;
  if (bottom.driver.name !== 'file') return '';
  return resolveBackingPath(nodeFilename(bottom), node.backingFile);
}

/** Is the backing child something other than what opening the image alone would give? */
export function backingOverridden(node: BlockNode): boolean {
  if (!node.driver.supportsBacking) return false;
  const backing = node.backing;
  if (!backing) return node.backingFile !== '';
  return nodeFilename(backing.child) !== node.autoBackingFile;
}

export function fullOptions(node: BlockNode): QDict {
  const opts = newDict();
  opts.driver = node.driver.name;
  for (const [k, v] of strongOptions(node)) opts[k] = v;
  if (node.file) opts.file = fullOptions(node.file.child);
  if (backingOverridden(node)) opts.backing = node.backing ? fullOptions(node.backing.child) : null;
  return opts;
}

/** The node's filename, worked out once until its subtree changes (see BlockNode.cachedFilename). */
export function nodeFilename(node: BlockNode): string {
  if (node.cachedFilename !== undefined) return node.cachedFilename;
  // children first: a node keeps its filename only while its children keep theirs
  for (const edge of node.children.values()) nodeFilename(edge.child);
  return (node.cachedFilename = refreshFilename(node));
}

function refreshFilename(node: BlockNode): string {
  const driver = node.driver;
  if (driver.name === 'file') return node.options.filename as string;
  // a format node is named after its file only when that file is a plain protocol node
  const plain =
    driver.protocol
      ? strongOptions(node).length === 0
      : strongOptions(node).length === 0 &&
        node.file !== undefined &&
        node.file.child.driver.protocol &&
        !nodeFilename(node.file.child).startsWith('json:') &&
        !backingOverridden(node);
  if (plain) return driver.protocol ? `${driver.name}://` : nodeFilename(node.file!.child);
  return 'json:' + encodeJson(fullOptions(node));
}
