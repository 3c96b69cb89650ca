// Which items of the open folder are selected: a click selects one, Ctrl (⌘)
// + click adds or removes one, Shift + click selects the run from the last
// item clicked (the anchor) to this one, Ctrl + A selects everything shown.
import type { NodeId } from "../api";

export interface Selection {
  ids: ReadonlySet<NodeId>;
  /** Where a Shift + click or Shift + arrow run starts. */
  anchor: NodeId | null;
}

export const NONE: Selection = { ids: new Set(), anchor: null };

export function only(id: NodeId): Selection {
  return { ids: new Set([id]), anchor: id };
}

/**
 * The selection after a click (or a key that moves the cursor) on `id`, with
 * `order` the items as shown. `toggle`: Ctrl/⌘ held; `extend`: Shift held.
 */
export function select(
  current: Selection,
  order: readonly NodeId[],
  id: NodeId,
  { toggle = false, extend = false }: { toggle?: boolean; extend?: boolean } = {},
): Selection {
  const anchorAt = current.anchor === null ? -1 : order.indexOf(current.anchor);
  const at = order.indexOf(id);
  if (extend && anchorAt >= 0 && at >= 0) {
    const [from, to] = anchorAt <= at ? [anchorAt, at] : [at, anchorAt];
    const run = order.slice(from, to + 1);
    const ids = new Set(toggle ? [...current.ids, ...run] : run);
    return { ids, anchor: current.anchor };
  }
  if (toggle) {
    const ids = new Set(current.ids);
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    return { ids, anchor: id };
  }
  return only(id);
}

/** Everything shown, the anchor kept. */
export function selectAll(current: Selection, order: readonly NodeId[]): Selection {
  return { ids: new Set(order), anchor: current.anchor ?? order[0] ?? null };
}

/** Without what is not shown any more (deleted, moved away, filtered out); the same object when nothing went. */
export function prune(current: Selection, order: readonly NodeId[]): Selection {
  const shown = new Set(order);
  if ([...current.ids].every((id) => shown.has(id))) return current;
  const ids = new Set([...current.ids].filter((id) => shown.has(id)));
  return { ids, anchor: current.anchor !== null && shown.has(current.anchor) ? current.anchor : null };
}

/** The selected items, in the order shown. */
export function selectedIn<T extends { id: NodeId }>(current: Selection, items: readonly T[]): T[] {
  return items.filter((item) => current.ids.has(item.id));
}
