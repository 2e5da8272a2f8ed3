import { describe, expect, it } from 'vitest';
import { ExportEntry } from '../../../../../src/block/exports/nbd/export-table.js';
import { MetaSelection } from '../../../../../src/block/exports/nbd/meta-context.js';
import { MemoryBackend } from '../../../../helpers/nbd-backends.js';

function selection(depth: boolean, queries: string[] | null, list: boolean): string[] {
  const entry = new ExportEntry(new MemoryBackend({ name: 'x', size: 65536, allocationDepth: depth, bitmaps: ['b0', 'bé'] }), true);
  const s = new MetaSelection(entry);
  if (queries === null) s.selectAll();
  else for (const q of queries) s.apply(Buffer.from(q), list);
  return s.contexts().map((c) => `${c.id}:${c.name}`);
}

describe('MetaSelection', () => {
  it('lists every context the export offers, in id order', () => {
    expect(selection(true, null, true)).toEqual(['0:base:allocation', '1:qemu:allocation-depth', '2:qemu:dirty-bitmap:b0', '3:qemu:dirty-bitmap:bé']);
    expect(selection(false, null, true)).toEqual(['0:base:allocation', '2:qemu:dirty-bitmap:b0', '3:qemu:dirty-bitmap:bé']);
  });

  it('treats empty leaves as "all of them" when listing and as nothing when setting', () => {
    const q = ['base:', 'qemu:dirty-bitmap:'];
    expect(selection(true, q, true)).toEqual(['0:base:allocation', '2:qemu:dirty-bitmap:b0', '3:qemu:dirty-bitmap:bé']);
    expect(selection(true, q, false)).toEqual([]);
    expect(selection(true, ['qemu:'], true)).toEqual(['1:qemu:allocation-depth', '2:qemu:dirty-bitmap:b0', '3:qemu:dirty-bitmap:bé']);
    expect(selection(true, ['qemu:'], false)).toEqual([]);
  });

  it('selects exact names, a bitmap by its UTF-8 name, and ignores unknown ones', () => {
    expect(selection(true, ['qemu:dirty-bitmap:bé', 'base:allocation', 'base:xyz', 'foo:bar', 'qemu:nope', 'qemu:dirty-bitmap:b'], false)).toEqual([
      '0:base:allocation',
      '3:qemu:dirty-bitmap:bé',
    ]);
  });

  it('does not offer allocation depth on an export without it', () => {
    expect(selection(false, ['qemu:allocation-depth'], false)).toEqual([]);
  });
});
