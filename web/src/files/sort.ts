// Ordering and filtering of a folder's items (pure: unit-tested).
import type { Node, SortKey, SortOrder } from "../api/types";

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** Folders first (always), then by key in order; ties by name, then id. */
export function sortNodes(nodes: readonly Node[], key: SortKey, order: SortOrder): Node[] {
  const sign = order === "desc" ? -1 : 1;
  return [...nodes].sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === "folder" ? -1 : 1;
    let by = 0;
    if (key === "size") by = a.size - b.size;
    else if (key === "modified") by = Date.parse(a.modified) - Date.parse(b.modified);
    if (by === 0) by = collator.compare(a.name, b.name);
    if (by === 0) by = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return by * sign;
  });
}

/** Items whose name holds every word of the query, case- and accent-insensitively. */
export function filterNodes(nodes: readonly Node[], query: string): readonly Node[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (!words.length) return nodes;
  return nodes.filter((node) => {
    const name = fold(node.name);
    return words.every((word) => name.includes(word));
  });
}

function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}
