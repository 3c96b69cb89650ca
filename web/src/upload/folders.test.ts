import { describe, expect, it } from "vitest";
import { ApiError } from "../api";
import type { Node, NodeId } from "../api";
import { makeFolders, withAncestors, type FolderIo, type FolderOutcome } from "./folders";

/** A server's tree in memory: folder ids by (parent, name), with the requests it got. */
function fakeServer(options: { batches?: boolean; files?: [NodeId, string][] } = {}) {
  let next = 100;
  const nodes = new Map<string, Node>();
  const key = (parent: NodeId, name: string) => `${parent}/${name}`;
  const node = (id: NodeId, parent: NodeId, name: string, kind: "file" | "folder"): Node =>
    ({ id, parent_id: parent, name, kind }) as unknown as Node;
  for (const [parent, name] of options.files ?? []) nodes.set(key(parent, name), node(next++, parent, name, "file"));
  const requests: string[] = [];
  const create = (parent: NodeId, name: string): FolderOutcome => {
    if (name === "bad:name") return { status: 400, error: { code: "invalid_name", message: "Not a valid name." } };
    const taken = nodes.get(key(parent, name));
    if (taken) return { status: 409, error: { code: "name_taken", message: "Taken." } };
    const made = node(next++, parent, name, "folder");
    nodes.set(key(parent, name), made);
    return { status: 201, node: made };
  };
  const io: FolderIo = {
    async batch(folders) {
      requests.push(`batch ${folders.length}`);
      if (options.batches === false) throw new ApiError(404, "http_404", "No such route");
      return folders.map(({ parent_id, name }) => create(parent_id, name));
    },
    async one(parent, name) {
      requests.push(`one ${name}`);
      const outcome = create(parent, name);
      if (!outcome.node) throw new ApiError(outcome.status, outcome.error!.code, outcome.error!.message);
      return outcome.node;
    },
    async children(parent) {
      requests.push(`children ${parent}`);
      return [...nodes.values()].filter((n) => n.parent_id === parent);
    },
  };
  return { io, requests, nodes, create };
}

describe("withAncestors", () => {
  it("adds every folder above each path, shallowest first, each once", () => {
    expect(withAncestors(["a/b/c", "a/d", "e", "a/b"])).toEqual(["a", "e", "a/b", "a/d", "a/b/c"]);
    expect(withAncestors(["/x//y/"])).toEqual(["x", "x/y"]);
  });
});

describe("makeFolders", () => {
  it("makes a tree with empty folders one level per request", async () => {
    const server = fakeServer();
    const made = await makeFolders(1, ["Trip/photos/raw", "Trip/empty", "Other"], server.io);
    expect(server.requests).toEqual(["batch 2", "batch 2", "batch 1"]);
    expect([...made.keys()].sort()).toEqual(["Other", "Trip", "Trip/empty", "Trip/photos", "Trip/photos/raw"]);
    const trip = made.get("Trip");
    expect(typeof trip).toBe("number");
    expect(server.nodes.get(`${trip}/photos`)?.id).toBe(made.get("Trip/photos"));
  });

  it("uses folders that exist already, looking each parent up once", async () => {
    const server = fakeServer();
    const existing = server.create(1, "Trip").node!.id;
    server.create(existing, "a");
    server.create(existing, "b");
    const made = await makeFolders(1, ["Trip/a", "Trip/b", "Trip/c"], server.io);
    expect(made.get("Trip")).toBe(existing);
    expect(made.get("Trip/a")).toBe(server.nodes.get(`${existing}/a`)?.id);
    expect(server.requests.filter((r) => r.startsWith("children"))).toEqual(["children 1", `children ${existing}`]);
  });

  it("fails a folder whose name is a file, and everything under it", async () => {
    const server = fakeServer({ files: [[1, "Trip"]] });
    const made = await makeFolders(1, ["Trip/a/b", "bad:name", "Fine"], server.io);
    expect(made.get("Trip")).toBeInstanceOf(Error);
    expect((made.get("Trip") as Error).message).toContain("is a file");
    expect(made.get("Trip/a")).toBe(made.get("Trip"));
    expect(made.get("Trip/a/b")).toBe(made.get("Trip"));
    expect((made.get("bad:name") as Error).message).toBe("Not a valid name.");
    expect(typeof made.get("Fine")).toBe("number");
    // Nothing was asked for under the folder that failed.
    expect(server.requests).toEqual(["batch 3", "children 1"]);
  });

  it("goes folder by folder on a server without batches", async () => {
    const server = fakeServer({ batches: false });
    const made = await makeFolders(1, ["a/b", "c"], server.io);
    expect(server.requests).toEqual(["batch 2", "one a", "one c", "one b"]);
    expect(typeof made.get("a/b")).toBe("number");
  });
});
