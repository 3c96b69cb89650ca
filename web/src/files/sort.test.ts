import { describe, expect, it } from "vitest";
import type { Node } from "../api/types";
import { filterNodes, sortNodes } from "./sort";

let ids = 0;
function node(name: string, kind: "file" | "folder", size = 0, modified = "2026-01-01T00:00:00Z"): Node {
  return { id: ++ids, parent_id: 1, name, kind, size, revision: null, modified, trashed_at: null };
}

const items = [
  node("b.txt", "file", 30, "2026-01-03T00:00:00Z"),
  node("Zeta", "folder"),
  node("a10.txt", "file", 10, "2026-01-01T00:00:00Z"),
  node("a2.txt", "file", 20, "2026-01-02T00:00:00Z"),
  node("alpha", "folder"),
];

describe("sortNodes", () => {
  it("puts folders first and orders names naturally", () => {
    expect(sortNodes(items, "name", "asc").map((n) => n.name)).toEqual(["alpha", "Zeta", "a2.txt", "a10.txt", "b.txt"]);
  });
  it("keeps folders first when descending", () => {
    expect(sortNodes(items, "name", "desc").map((n) => n.name)).toEqual(["Zeta", "alpha", "b.txt", "a10.txt", "a2.txt"]);
  });
  it("sorts by size and by modified", () => {
    expect(sortNodes(items, "size", "asc").map((n) => n.name).slice(2)).toEqual(["a10.txt", "a2.txt", "b.txt"]);
    expect(sortNodes(items, "modified", "desc").map((n) => n.name).slice(2)).toEqual(["b.txt", "a2.txt", "a10.txt"]);
  });
});

describe("filterNodes", () => {
  it("matches every word, ignoring case and accents", () => {
    const list = [node("Résumé 2026.pdf", "file"), node("notes.txt", "file")];
    expect(filterNodes(list, "resume 26").map((n) => n.name)).toEqual(["Résumé 2026.pdf"]);
    expect(filterNodes(list, "  ")).toHaveLength(2);
    expect(filterNodes(list, "zzz")).toHaveLength(0);
  });
});
