// The upload manager: files from a drop or a picker go up through the same
// block protocol as the desktop client (docs/API.md, "Uploading a file"):
// cut and hash in a worker -> step 1 (`/uploads`, or `/uploads/batch` for many
// small files) -> PUT only the missing blocks to their presigned URLs, four at
// a time -> step 3 (`/commits`). Each file can be paused, resumed, cancelled
// and retried; network and server errors are retried with exponential
// backoff. A large file's upload survives a page reload: it is kept in
// localStorage and shown as waiting for its file; dropped again, step 1 lists
// only the blocks the server still misses, so only those are sent.
import { ApiError, api, errorText, session } from "../api";
import type { Node, NodeId, RevisionId } from "../api";
import { MAX_CHUNK, type Block } from "./chunker";
import { makeFolders, type FolderIo, type FolderOutcome } from "./folders";
import { hashFile } from "./hashing";

// ------------------------------------------------------------------ wire shapes

interface PresignedBlock {
  hash: string;
  size: number;
  url: string;
  expires_at: string;
  headers?: Record<string, string>;
}

interface UploadPlan {
  missing: PresignedBlock[];
}

interface CommitRequest {
  parent_id: NodeId;
  name: string;
  base_revision: RevisionId | null;
  blocks: { hash: string; size: number }[];
  modified: string;
}

interface Outcome {
  status: number;
  plan?: UploadPlan;
  node?: Node;
  error?: { code: string; message: string; missing?: string[] };
}

// ------------------------------------------------------------------ state

export type UploadStatus =
  | "waiting" // restored after a reload: needs its file dropped again
  | "queued"
  | "hashing"
  | "uploading"
  | "committing"
  | "retrying"
  | "paused"
  | "done"
  | "failed"
  | "cancelled";

export interface Upload {
  id: number;
  /** The name it gets on the server (a conflict renames it: "a (1).txt"). */
  name: string;
  /** Where it goes, relative to the folder it was dropped on ("Photos/a.jpg"). */
  path: string;
  size: number;
  lastModified: number;
  /** The folder it goes into. */
  parentId: NodeId;
  file: File | null;
  status: UploadStatus;
  /** Bytes cut and hashed so far. */
  hashed: number;
  /** Bytes the server has (confirmed blocks, or blocks it had already) or that are on their way. */
  uploaded: number;
  /** Bytes per second sent, over the last few seconds. */
  speed: number;
  /** Seconds left at that speed; null when unknown. */
  eta: number | null;
  error?: string;
  /** When a retry is due (status "retrying"). */
  retryAt?: number;
  /** Blocks sent in this session of the page (the rest the server had). */
  blocksSent: number;
  node?: Node;
  /** Persistence key (large files only). */
  key?: string;
}

interface Internal extends Upload {
  blocks?: Block[];
  controller?: AbortController;
  samples: { at: number; bytes: number }[];
  sentBytes: number;
  /** Hashes the server confirmed (a PUT answered 2xx), kept across reloads. */
  confirmed: Set<string>;
  single?: boolean;
}

const STORAGE_KEY = "drive.web.uploads";
const PARALLEL_PUTS = 4;
const MAX_TRIES = 8;
const BATCH_FILES = 200;

let nextId = 1;
const items: Internal[] = [];
const listeners = new Set<() => void>();
let notifyTimer: ReturnType<typeof setTimeout> | null = null;
let running = false;
let batchesSupported = true;

function notify(now = false) {
  if (now) {
    if (notifyTimer) clearTimeout(notifyTimer);
    notifyTimer = null;
    listeners.forEach((listener) => listener());
    return;
  }
  if (notifyTimer) return;
  notifyTimer = setTimeout(() => {
    notifyTimer = null;
    listeners.forEach((listener) => listener());
  }, 100);
}

function view(item: Internal): Upload {
  const { blocks: _b, controller: _c, samples: _s, sentBytes: _t, confirmed: _f, single: _g, ...rest } = item;
  return { ...rest };
}

// ------------------------------------------------------------------ persistence

interface Stored {
  key: string;
  name: string;
  path: string;
  size: number;
  lastModified: number;
  parentId: NodeId;
  confirmed: string[];
  /** Bytes the server had when the page last knew. */
  uploaded?: number;
}

function storageKey(item: { path: string; size: number; lastModified: number; parentId: NodeId }) {
  return `${item.parentId}:${item.path}:${item.size}:${item.lastModified}`;
}

function readStored(): Stored[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "[]");
    return Array.isArray(parsed) ? (parsed as Stored[]) : [];
  } catch {
    return [];
  }
}

function writeStored(records: Stored[]) {
  try {
    if (records.length) localStorage.setItem(STORAGE_KEY, JSON.stringify(records));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage full or disabled: the upload still runs, it just will not survive a reload.
  }
}

/** Only files of more than one block are worth resuming after a reload. */
function persistable(item: Internal) {
  return item.size > MAX_CHUNK;
}

function persist(item: Internal) {
  if (!persistable(item)) return;
  item.key ??= storageKey(item);
  const records = readStored().filter((r) => r.key !== item.key);
  records.push({
    key: item.key,
    name: item.name,
    path: item.path,
    size: item.size,
    lastModified: item.lastModified,
    parentId: item.parentId,
    confirmed: [...item.confirmed],
    uploaded: item.uploaded,
  });
  writeStored(records);
}

function forget(item: Internal) {
  if (!item.key) return;
  writeStored(readStored().filter((r) => r.key !== item.key));
}

function restore() {
  for (const record of readStored()) {
    items.push({
      id: nextId++,
      name: record.name,
      path: record.path,
      size: record.size,
      lastModified: record.lastModified,
      parentId: record.parentId,
      file: null,
      status: "waiting",
      hashed: 0,
      uploaded: record.uploaded ?? 0,
      speed: 0,
      eta: null,
      blocksSent: 0,
      key: record.key,
      samples: [],
      sentBytes: 0,
      confirmed: new Set(record.confirmed),
    });
  }
}

if (typeof localStorage !== "undefined") restore();

// ------------------------------------------------------------------ public API

export const uploads = {
  list(): Upload[] {
    return items.map(view);
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /**
   * Queues files for the folder `target`; `path` is each file's place under
   * it ("a/b.txt"). `folders` are folders of the drop to make even when no
   * file goes into them (empty ones), as paths under `target`.
   */
  async add(target: NodeId, files: { file: File; path: string }[], folders: string[] = []): Promise<void> {
    const fresh: { file: File; parts: string[]; name: string; path: string }[] = [];
    for (const { file, path } of files) {
      const parts = path.split("/").filter(Boolean);
      const name = parts.pop() ?? file.name;
      // A file dropped again after a reload resumes its upload where it was.
      const waiting = items.find(
        (item) =>
          item.status === "waiting" &&
          item.size === file.size &&
          item.lastModified === file.lastModified &&
          item.name === name,
      );
      if (waiting) {
        waiting.file = file;
        waiting.status = "queued";
        waiting.single = true;
        continue;
      }
      fresh.push({ file, parts, name, path });
    }
    const wanted = [...folders, ...fresh.map(({ parts }) => parts.join("/"))].filter(Boolean);
    const made = wanted.length ? await makeFolders(target, wanted, folderIo) : new Map<string, NodeId | Error>();
    for (const { file, parts, name, path } of fresh) {
      const parent = parts.length ? made.get(parts.join("/")) : target;
      if (typeof parent === "number") items.push(newItem(file, name, path, parent, "queued"));
      else items.push(newItem(file, name, path, target, "failed", parent?.message ?? "Its folder could not be made."));
    }
    const failed = folders.map((path) => made.get(path)).find((result) => result instanceof Error);
    notify(true);
    void pump();
    if (failed instanceof Error) throw failed;
  },
  pause(id: number) {
    const item = find(id);
    if (!item || !["queued", "hashing", "uploading", "committing", "retrying"].includes(item.status)) return;
    item.status = "paused";
    item.single = true;
    item.controller?.abort();
    notify(true);
  },
  resume(id: number) {
    const item = find(id);
    if (!item || item.status !== "paused") return;
    item.status = "queued";
    notify(true);
    void pump();
  },
  cancel(id: number) {
    const item = find(id);
    if (!item || item.status === "done") return;
    item.status = "cancelled";
    item.controller?.abort();
    forget(item);
    notify(true);
  },
  retry(id: number) {
    const item = find(id);
    if (!item || item.status !== "failed" || !item.file) return;
    item.status = "queued";
    item.error = undefined;
    item.single = true;
    notify(true);
    void pump();
  },
  /** Removes finished, failed and cancelled uploads (and forgotten waiting ones) from the list. */
  clearFinished() {
    for (let i = items.length - 1; i >= 0; i--) {
      if (["done", "cancelled"].includes(items[i].status)) items.splice(i, 1);
    }
    notify(true);
  },
  /** Gives a waiting (restored) upload up. */
  discard(id: number) {
    const index = items.findIndex((item) => item.id === id);
    if (index < 0) return;
    const [item] = items.splice(index, 1);
    item.controller?.abort();
    forget(item);
    notify(true);
  },
};

function find(id: number) {
  return items.find((item) => item.id === id);
}

function newItem(
  file: File,
  name: string,
  path: string,
  parentId: NodeId,
  status: UploadStatus,
  error?: string,
): Internal {
  return {
    id: nextId++,
    name,
    path,
    size: file.size,
    lastModified: file.lastModified,
    parentId,
    file,
    status,
    error,
    hashed: 0,
    uploaded: 0,
    speed: 0,
    eta: null,
    blocksSent: 0,
    samples: [],
    sentBytes: 0,
    confirmed: new Set(),
  };
}

// ------------------------------------------------------------------ folders

const folderIo: FolderIo = {
  async batch(folders) {
    const answer = await api<{ folders: FolderOutcome[] }>("POST", "/api/v1/folders/batch", { folders });
    return answer.folders;
  },
  one: (parent, name) => api<Node>("POST", "/api/v1/folders", { parent_id: parent, name }),
  children: (parent) => api<Node[]>("GET", `/api/v1/nodes/${parent}/children`),
};

// ------------------------------------------------------------------ the queue

const active = (item: Internal) => ["queued", "hashing", "uploading", "committing", "retrying"].includes(item.status);

/** Runs queued uploads one job at a time: a big file, or a batch of small ones. */
async function pump() {
  if (running) return;
  running = true;
  try {
    for (;;) {
      const next = items.find((item) => item.status === "queued");
      if (!next) break;
      if (batchesSupported && !next.single && next.size <= MAX_CHUNK) {
        const batch = items.filter((item) => item.status === "queued" && !item.single && item.size <= MAX_CHUNK);
        await runBatch(batch.slice(0, BATCH_FILES));
      } else {
        await runSingle(next);
      }
      if (items.every((item) => !active(item))) void session.reloadUser().catch(() => {});
    }
  } finally {
    running = false;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(abortError());
      },
      { once: true },
    );
  });

function abortError() {
  return new DOMException("stopped", "AbortError");
}

function isAbort(error: unknown) {
  return error instanceof DOMException ? error.name === "AbortError" : error instanceof Error && error.name === "AbortError";
}

/** Network errors, 5xx, 429 and 408: worth trying again. */
function transient(error: unknown) {
  if (error instanceof ApiError) return error.status >= 500 || error.status === 429 || error.status === 408;
  return error instanceof TypeError || (error instanceof Error && error.name === "NetworkError");
}

/** `step` with exponential backoff on transient errors (1 s, 2 s, 4 s ... 30 s). */
async function withRetry<T>(items: Internal[], signal: AbortSignal, step: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (isAbort(error) || !transient(error) || attempt + 1 >= MAX_TRIES) throw error;
      const wait = Math.min(30_000, 1000 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      const before = items.map((item) => item.status);
      for (const item of items) {
        if (active(item)) {
          item.status = "retrying";
          item.retryAt = Date.now() + wait;
          item.error = errorText(error);
        }
      }
      notify(true);
      await sleep(wait, signal);
      items.forEach((item, i) => {
        if (item.status === "retrying") {
          item.status = before[i];
          item.error = undefined;
          item.retryAt = undefined;
        }
      });
      notify(true);
    }
  }
}

function request(item: Internal): CommitRequest {
  return {
    parent_id: item.parentId,
    name: item.name,
    base_revision: null,
    blocks: (item.blocks ?? []).map((block) => ({ hash: block.hash, size: block.size })),
    modified: new Date(item.lastModified || Date.now()).toISOString(),
  };
}

/** "a.txt" -> "a (1).txt": keep both, the new one numbered. */
export function conflictName(name: string, n: number): string {
  const dot = name.lastIndexOf(".");
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot) : "";
  const base = stem.replace(/ \(\d+\)$/, "");
  return `${base} (${n})${ext}`;
}

function isConflict(error: { status?: number; code?: string } | undefined) {
  return error?.status === 409 || error?.code === "stale_revision" || error?.code === "name_taken";
}

function rename(item: Internal) {
  const match = / \((\d+)\)(\.[^.]*)?$/.exec(item.name);
  item.name = conflictName(item.name, match ? Number(match[1]) + 1 : 1);
}

async function ensureHashed(item: Internal, signal: AbortSignal) {
  if (item.blocks || !item.file) return;
  item.status = "hashing";
  item.hashed = 0;
  notify(true);
  item.blocks = await hashFile(
    item.file,
    (done) => {
      item.hashed = done;
      notify();
    },
    signal,
  );
  item.hashed = item.size;
  if (item.status === "hashing") item.status = "queued";
}

function stopped(item: Internal, error: unknown) {
  if (isAbort(error) || item.status === "paused" || item.status === "cancelled") {
    if (active(item)) item.status = "paused";
    return;
  }
  item.status = "failed";
  item.error = errorText(error);
}

function finish(item: Internal, node: Node) {
  item.status = "done";
  item.node = node;
  item.name = node.name;
  item.uploaded = item.size;
  item.speed = 0;
  item.eta = 0;
  forget(item);
}

/** One file on its own: step 1, the missing blocks, step 3; conflicts keep both. */
async function runSingle(item: Internal) {
  if (!item.file) {
    item.status = "waiting";
    return;
  }
  const controller = new AbortController();
  item.controller = controller;
  const { signal } = controller;
  item.error = undefined;
  try {
    await ensureHashed(item, signal);
    item.status = "uploading";
    persist(item);
    for (let round = 0; ; round++) {
      if (round > 25) throw new Error("Could not find a free name for this file.");
      let plan: UploadPlan;
      try {
        plan = await withRetry([item], signal, () =>
          api<UploadPlan>("POST", "/api/v1/uploads", request(item), { signal }),
        );
      } catch (error) {
        if (error instanceof ApiError && isConflict(error)) {
          rename(item);
          continue;
        }
        throw error;
      }
      try {
        await sendBlocks([item], plan.missing, signal);
      } catch (error) {
        // URLs that ran out (a long pause) or were refused: ask for fresh ones.
        if (error instanceof ApiError && error.status === 403 && round < 3) continue;
        throw error;
      }
      item.status = "committing";
      notify(true);
      try {
        const node = await withRetry([item], signal, () =>
          api<Node>("POST", "/api/v1/commits", request(item), { signal }),
        );
        finish(item, node);
        return;
      } catch (error) {
        if (error instanceof ApiError && isConflict(error)) {
          rename(item);
          continue;
        }
        // A block the collector took meanwhile: ask again, send it, commit again.
        if (error instanceof ApiError && error.code === "missing_blocks" && round < 3) continue;
        throw error;
      }
    }
  } catch (error) {
    stopped(item, error);
  } finally {
    item.controller = undefined;
    notify(true);
  }
}

/** Many small files: one step 1 and one step 3 for all, each distinct missing block PUT once. */
async function runBatch(batch: Internal[]) {
  const controller = new AbortController();
  const { signal } = controller;
  // Pausing or cancelling one file of the batch stops the batch; the others go on by themselves.
  for (const item of batch) item.controller = controller;
  const live = () => batch.filter((item) => active(item));
  try {
    for (const item of batch) {
      await ensureHashed(item, signal);
      item.status = "uploading";
    }
    notify(true);
    let outcomes: Outcome[];
    try {
      const answer = await withRetry(live(), signal, () =>
        api<{ files: Outcome[] }>("POST", "/api/v1/uploads/batch", { files: live().map(request) }, { signal }),
      );
      outcomes = answer.files;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.code !== "not_found") {
        // A server without batches: file by file.
        batchesSupported = false;
        for (const item of live()) item.status = "queued";
        return;
      }
      if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
        for (const item of live()) {
          item.status = "queued";
          item.single = true;
        }
        return;
      }
      throw error;
    }
    const sent = live();
    const planned: Internal[] = [];
    const missing = new Map<string, PresignedBlock>();
    sent.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.plan) {
        planned.push(item);
        for (const block of outcome.plan.missing) missing.set(block.hash, block);
      } else {
        settleError(item, outcome);
      }
    });
    await sendBlocks(planned, [...missing.values()], signal);
    const committing = planned.filter((item) => active(item));
    for (const item of committing) item.status = "committing";
    notify(true);
    const commits = await withRetry(committing, signal, () =>
      api<{ files: Outcome[] }>("POST", "/api/v1/commits/batch", { files: committing.map(request) }, { signal }),
    );
    committing.forEach((item, i) => {
      const outcome = commits.files[i];
      if (outcome?.node) finish(item, outcome.node);
      else settleError(item, outcome);
    });
  } catch (error) {
    for (const item of batch) {
      if (!active(item)) continue;
      if (isAbort(error)) {
        // Another file of the batch was paused or cancelled: this one goes on by itself.
        item.status = "queued";
        item.single = true;
      } else stopped(item, error);
    }
  } finally {
    for (const item of batch) item.controller = undefined;
    notify(true);
  }
}

/** A file of a batch whose outcome was an error: conflicts and lost blocks go again on their own. */
function settleError(item: Internal, outcome: Outcome | undefined) {
  const error = outcome?.error;
  if (isConflict({ status: outcome?.status, code: error?.code })) {
    rename(item);
    item.status = "queued";
    item.single = true;
  } else if (error?.code === "missing_blocks") {
    item.status = "queued";
    item.single = true;
  } else {
    item.status = "failed";
    item.error = error?.message ?? `Error ${outcome?.status ?? "?"}`;
  }
}

// ------------------------------------------------------------------ blocks

/** The bytes of block `hash` from the first of `owners` that has it. */
function blockSource(owners: Internal[], hash: string): { item: Internal; blob: Blob } | null {
  for (const item of owners) {
    const block = item.blocks?.find((b) => b.hash === hash);
    if (block && item.file) return { item, blob: item.file.slice(block.offset, block.offset + block.size) };
  }
  return null;
}

/** PUTs the missing blocks, PARALLEL_PUTS at a time, each retried with backoff. */
async function sendBlocks(owners: Internal[], missing: PresignedBlock[], signal: AbortSignal) {
  const missingBytes = new Map<Internal, number>();
  for (const item of owners) {
    const own = new Set((item.blocks ?? []).map((b) => b.hash));
    const bytes = missing.filter((m) => own.has(m.hash)).reduce((sum, m) => sum + m.size, 0);
    missingBytes.set(item, bytes);
    // What the server has already counts as uploaded: a resumed upload starts where it stopped.
    item.uploaded = Math.max(0, item.size - bytes);
    item.sentBytes = 0;
    item.samples = [{ at: Date.now(), bytes: 0 }];
    // Blocks the server asks for again are not confirmed any more (their reservation ran out).
    for (const m of missing) item.confirmed.delete(m.hash);
  }
  notify(true);
  const queue = [...missing];
  const worker = async (signal: AbortSignal) => {
    for (let block = queue.shift(); block; block = queue.shift()) {
      if (signal.aborted) throw abortError();
      const source = blockSource(owners, block.hash);
      if (!source) throw new Error("A block of the file could not be found again: was it changed?");
      const { item, blob } = source;
      let inFlight = 0;
      await withRetry([item], signal, async () => {
        inFlight = 0;
        await put(block!, blob, signal, (loaded) => {
          progress(item, loaded - inFlight);
          inFlight = loaded;
        });
      });
      progress(item, block.size - inFlight);
      item.blocksSent += 1;
      for (const owner of owners) {
        if (owner.blocks?.some((b) => b.hash === block!.hash)) {
          owner.confirmed.add(block.hash);
          persist(owner);
        }
      }
    }
  };
  // The first failure stops the other PUTs of this round before it is answered.
  const round = new AbortController();
  const stop = () => round.abort();
  signal.addEventListener("abort", stop, { once: true });
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(PARALLEL_PUTS, queue.length) }, () =>
      worker(round.signal).catch((error) => {
        round.abort();
        throw error;
      }),
    ),
  );
  signal.removeEventListener("abort", stop);
  if (signal.aborted) throw abortError();
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) {
    // Prefer the error that stopped the round over the aborts it caused.
    const real = results.find(
      (result): result is PromiseRejectedResult => result.status === "rejected" && !isAbort(result.reason),
    );
    throw (real ?? failed).reason;
  }
}

function progress(item: Internal, delta: number) {
  if (delta === 0) return;
  item.sentBytes += delta;
  item.uploaded = Math.min(item.size, item.uploaded + delta);
  const now = Date.now();
  item.samples.push({ at: now, bytes: item.sentBytes });
  while (item.samples.length > 2 && now - item.samples[0].at > 5000) item.samples.shift();
  const first = item.samples[0];
  const seconds = (now - first.at) / 1000;
  item.speed = seconds > 0.2 ? (item.sentBytes - first.bytes) / seconds : 0;
  item.eta = item.speed > 0 ? (item.size - item.uploaded) / item.speed : null;
  notify();
}

class PutError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = status === 0 ? "NetworkError" : "PutError";
  }
}

/** One block's PUT with upload progress (XHR: fetch reports none). */
function put(block: PresignedBlock, body: Blob, signal: AbortSignal, onProgress: (loaded: number) => void) {
  return new Promise<void>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", block.url);
    for (const [name, value] of Object.entries(block.headers ?? {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        let message = `The block upload failed (${xhr.status}).`;
        let code = `http_${xhr.status}`;
        try {
          const body = JSON.parse(xhr.responseText);
          message = body?.error?.message ?? message;
          code = body?.error?.code ?? code;
        } catch {
          // S3 answers XML; the status says enough.
        }
        reject(new ApiError(xhr.status, code, message));
      }
    };
    xhr.onerror = () => reject(new PutError(0, "The server cannot be reached."));
    xhr.ontimeout = () => reject(new PutError(0, "The block upload timed out."));
    const abort = () => {
      xhr.abort();
      reject(abortError());
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    xhr.send(body);
  });
}
