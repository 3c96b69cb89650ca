// The tree: listing, folders, rename/move, trash, revisions.
import { api } from "./http";
import type { Node, NodeId, Revision, RevisionId, SortKey, SortOrder } from "./types";

const enc = encodeURIComponent;

export const tree = {
  node: (id: NodeId, signal?: AbortSignal) => api<Node>("GET", `/api/v1/nodes/${enc(id)}`, undefined, { signal }),
  children: (id: NodeId, sort: SortKey = "name", order: SortOrder = "asc", signal?: AbortSignal) =>
    api<Node[]>("GET", `/api/v1/nodes/${enc(id)}/children?sort=${sort}&order=${order}`, undefined, { signal }),
  lookup: (path: string) => api<Node>("GET", `/api/v1/lookup?path=${enc(path)}`),
  createFolder: (parentId: NodeId, name: string) =>
    api<Node>("POST", "/api/v1/folders", { parent_id: parentId, name }),
  rename: (id: NodeId, name: string) => api<Node>("PATCH", `/api/v1/nodes/${enc(id)}`, { name }),
  move: (id: NodeId, parentId: NodeId, name?: string) =>
    api<Node>("PATCH", `/api/v1/nodes/${enc(id)}`, name === undefined ? { parent_id: parentId } : { parent_id: parentId, name }),
  trash: (id: NodeId) => api<void>("DELETE", `/api/v1/nodes/${enc(id)}`),
  revisions: (id: NodeId) => api<Revision[]>("GET", `/api/v1/nodes/${enc(id)}/revisions`),
  restoreRevision: (id: NodeId, revision: RevisionId) =>
    api<Node>("POST", `/api/v1/nodes/${enc(id)}/revisions/${enc(revision)}/restore`),
};

export const trash = {
  list: () => api<Node[]>("GET", "/api/v1/trash"),
  restore: (id: NodeId) => api<Node>("POST", `/api/v1/trash/${enc(id)}/restore`),
  purge: (id: NodeId) => api<void>("DELETE", `/api/v1/trash/${enc(id)}`),
  empty: () => api<void>("DELETE", "/api/v1/trash"),
};

/** The chain from the root to `id` (root first), by walking parent_id. */
export async function ancestry(id: NodeId, known: Map<NodeId, Node> = new Map()): Promise<Node[]> {
  const chain: Node[] = [];
  let next: NodeId | null = id;
  let guard = 0;
  while (next && guard++ < 256) {
    const node: Node = known.get(next) ?? (await tree.node(next));
    known.set(node.id, node);
    chain.unshift(node);
    next = node.parent_id;
  }
  return chain;
}
