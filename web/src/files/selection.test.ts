import { describe, expect, it } from "vitest";
import { NONE, only, prune, select, selectAll, selectedIn } from "./selection";

const order = [1, 2, 3, 4, 5, 6];
const ids = (selection: { ids: ReadonlySet<number> }) => [...selection.ids].sort((a, b) => a - b);

describe("selection", () => {
  it("a click selects one item and makes it the anchor", () => {
    const s = select(selectAll(NONE, order), order, 3);
    expect(ids(s)).toEqual([3]);
    expect(s.anchor).toBe(3);
  });

  it("ctrl + click adds and removes single items", () => {
    let s = select(only(2), order, 5, { toggle: true });
    expect(ids(s)).toEqual([2, 5]);
    s = select(s, order, 2, { toggle: true });
    expect(ids(s)).toEqual([5]);
    expect(s.anchor).toBe(2);
  });

  it("shift + click selects the run from the anchor, either way, replacing the rest", () => {
    const start = select(only(4), order, 1, { toggle: true });
    expect(ids(select(start, order, 3, { extend: true }))).toEqual([1, 2, 3]);
    const back = select(only(5), order, 2, { extend: true });
    expect(ids(back)).toEqual([2, 3, 4, 5]);
    expect(back.anchor).toBe(5);
    // Moving the end of the run again starts from the same anchor.
    expect(ids(select(back, order, 6, { extend: true }))).toEqual([5, 6]);
  });

  it("ctrl + shift + click adds the run to what is selected", () => {
    const s = select(select(only(1), order, 4, { toggle: true }), order, 6, { toggle: true, extend: true });
    expect(ids(s)).toEqual([1, 4, 5, 6]);
  });

  it("shift + click without an anchor shown selects just the item", () => {
    expect(ids(select(NONE, order, 3, { extend: true }))).toEqual([3]);
    expect(ids(select(only(9), order, 3, { extend: true }))).toEqual([3]);
  });

  it("select all, then prune what is gone", () => {
    const all = selectAll(only(2), order);
    expect(ids(all)).toEqual(order);
    expect(all.anchor).toBe(2);
    const pruned = prune(all, [1, 3, 5]);
    expect(ids(pruned)).toEqual([1, 3, 5]);
    expect(pruned.anchor).toBeNull();
    expect(prune(pruned, order)).toBe(pruned);
  });

  it("lists the selected items in the order shown", () => {
    const items = order.map((id) => ({ id }));
    expect(selectedIn(select(only(5), order, 2, { toggle: true }), items).map((i) => i.id)).toEqual([2, 5]);
  });
});
