// The folders of a drop: every folder of a dropped tree is made on the server,
// empty ones included, one level per request through `/folders/batch` (up to
// 1,000 folders each; a folder that exists already is used as it is), before
// the files go into them. On a server without batches, folder by folder.
import { ApiError, errorText } from "../api";
import type { Node, NodeId } from "../api";

/** One folder's answer in a `/folders/batch` reply (the answer `/folders` would have given). */
export interface FolderOutcome {
  status: number;
  node?: Node;
  error?: { code: string; message: string };
}

/** What making the folders needs from the server (the API client in the app, fakes in tests). */
export interface FolderIo {
  /** `POST /api/v1/folders/batch`: one outcome per folder, in order. */
  batch(folders: { parent_id: NodeId; name: string }[]): Promise<FolderOutcome[]>;
  /** `POST /api/v1/folders` (a server without batches). */
  one(parent: NodeId, name: string): Promise<Node>;
  /** `GET /api/v1/nodes/{parent}/children`. */
  children(parent: NodeId): Promise<Node[]>;
}

/** Folders per `/folders/batch` request at most (the server's limit). */
export const MAX_BATCH_FOLDERS = 1000;

/** Each path and every folder above it ("a/b/c" -> "a", "a/b", "a/b/c"), shallowest first, each once. */
export function withAncestors(paths: string[]): string[] {
  const all = new Set<string>();
  for (const path of paths) {
    const parts = path.split("/").filter(Boolean);
    for (let depth = 1; depth <= parts.length; depth++) all.add(parts.slice(0, depth).join("/"));
  }
  return [...all].sort((a, b) => a.split("/").length - b.split("/").length);
}

/**
 * Makes the folders `paths` ("/"-separated, relative to `root`) and the ones
 * above them. Answers each path's folder id, or why it could not be made (a
 * folder under a failed one fails with it).
 */
export async function makeFolders(root: NodeId, paths: string[], io: FolderIo): Promise<Map<string, NodeId | Error>> {
  const made = new Map<string, NodeId | Error>([["", root]]);
  const all = withAncestors(paths);
  let batches = true;
  for (let depth = 1; all.some((path) => depthOf(path) >= depth); depth++) {
    const level: { path: string; parent: NodeId; name: string }[] = [];
    for (const path of all.filter((p) => depthOf(p) === depth)) {
      const parent = made.get(parentOf(path));
      if (typeof parent !== "number") {
        made.set(path, parent instanceof Error ? parent : new Error("Its parent folder could not be made."));
        continue;
      }
      level.push({ path, parent, name: nameOf(path) });
    }
    for (let at = 0; at < level.length; at += MAX_BATCH_FOLDERS) {
      const chunk = level.slice(at, at + MAX_BATCH_FOLDERS);
      if (batches) {
        try {
          const outcomes = await io.batch(chunk.map(({ parent, name }) => ({ parent_id: parent, name })));
          await settle(chunk, outcomes, made, io);
          continue;
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 404 && error.code !== "not_found")) {
            for (const { path } of chunk) made.set(path, asError(error));
            continue;
          }
          // A server without batches: folder by folder from now on.
          batches = false;
        }
      }
      for (const { path, parent, name } of chunk) {
        try {
          made.set(path, (await io.one(parent, name)).id);
        } catch (error) {
          if (error instanceof ApiError && error.code === "name_taken") {
            made.set(path, await existing(parent, name, io, new Map()));
          } else made.set(path, asError(error));
        }
      }
    }
  }
  made.delete("");
  return made;
}

/** Records a batch's outcomes; a name taken already is looked up (one listing per parent). */
async function settle(
  chunk: { path: string; parent: NodeId; name: string }[],
  outcomes: FolderOutcome[],
  made: Map<string, NodeId | Error>,
  io: FolderIo,
) {
  const listings = new Map<NodeId, Promise<Node[]>>();
  for (const [i, { path, parent, name }] of chunk.entries()) {
    const outcome = outcomes[i];
    if (outcome?.node) made.set(path, outcome.node.id);
    else if (outcome?.error?.code === "name_taken") made.set(path, await existing(parent, name, io, listings));
    else made.set(path, new Error(outcome?.error?.message ?? `The folder “${name}” could not be made.`));
  }
}

/** The folder `name` in `parent` that made a creation answer `name_taken`. */
async function existing(
  parent: NodeId,
  name: string,
  io: FolderIo,
  listings: Map<NodeId, Promise<Node[]>>,
): Promise<NodeId | Error> {
  let listing = listings.get(parent);
  if (!listing) {
    listing = io.children(parent);
    listings.set(parent, listing);
  }
  try {
    const wanted = name.normalize("NFC");
    const found = (await listing).find((child) => child.name.normalize("NFC") === wanted);
    if (!found) return new Error(`The folder “${name}” could not be made: the name is taken.`);
    if (found.kind !== "folder") return new Error(`“${name}” exists and is a file.`);
    return found.id;
  } catch (error) {
    return asError(error);
  }
}

function asError(error: unknown): Error {
  return new Error(errorText(error));
}

function depthOf(path: string) {
  return path.split("/").length;
}

function parentOf(path: string) {
  const at = path.lastIndexOf("/");
  return at < 0 ? "" : path.slice(0, at);
}

function nameOf(path: string) {
  return path.slice(path.lastIndexOf("/") + 1);
}
