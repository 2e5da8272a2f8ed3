/**
 * What QEMU's two input visitors (QObject and keyval) share: the stack of
 * containers being walked, taking members and list elements from it, and
 * full_name_nth(), the path of a member for error texts.
 */
import { argErrors } from './arg-errors.js';

export interface Frame<V> {
  readonly name: string | null;
  readonly dict?: { readonly [key: string]: V };
  readonly list?: readonly V[];
  /** Dict keys consumed so far (QEMU removes them from a hash table). */
  readonly consumed?: Set<string>;
  /** List: index of the element last taken, -1 before the first (QEMU's so->index). */
  index: number;
}

export abstract class InputStack<V> {
  protected readonly stack: Frame<V>[] = [];

  constructor(protected readonly root: V) {}

  /** How a list element shows in a path: `[i]` for QMP input, `.i` for keyval. */
  protected abstract listElement(index: number): string;

  /** full_name_nth(name, 0): the path of `name` inside the current containers. */
  fullName(name: string | null): string {
    let out = '';
    let cur = name;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const f = this.stack[i]!;
      out = f.dict ? `.${cur ?? '<anonymous>'}${out}` : `${this.listElement(f.index)}${out}`;
      cur = f.name;
    }
    if (cur !== null) return cur + out;
    if (out.startsWith('.')) return out.slice(1);
    return out === '' ? '<anonymous>' : out;
  }

  /** qobject_input_try_get_object(): the next value at `name`, or undefined. */
  protected take(name: string | null, consume: boolean): V | undefined {
    const top = this.stack[this.stack.length - 1];
    if (!top) return this.root;
    if (top.dict) {
      const v = Object.hasOwn(top.dict, name!) ? top.dict[name!] : undefined;
      if (consume && v !== undefined) top.consumed!.add(name!);
      return v;
    }
    const v = top.list![top.index + 1];
    if (consume) top.index++;
    return v;
  }

  protected get(name: string | null, consume = true): V {
    const v = this.take(name, consume);
    if (v === undefined) throw argErrors.missing(this.fullName(name));
    return v;
  }
}
