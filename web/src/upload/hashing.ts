// The main thread's side of hash.worker.ts: one worker, files hashed one at a time.
import type { Block } from "./chunker";

export type HashRequest = { type: "hash"; id: number; file: Blob } | { type: "cancel"; id: number };

export type HashReply =
  | { type: "progress"; id: number; done: number }
  | { type: "done"; id: number; blocks: Block[] }
  | { type: "error"; id: number; message: string; aborted: boolean };

interface Pending {
  resolve: (blocks: Block[]) => void;
  reject: (error: Error) => void;
  onProgress?: (done: number) => void;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function theWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL("./hash.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<HashReply>) => {
      const reply = event.data;
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      if (reply.type === "progress") {
        waiting.onProgress?.(reply.done);
        return;
      }
      pending.delete(reply.id);
      if (reply.type === "done") waiting.resolve(reply.blocks);
      else {
        const error = new Error(reply.message);
        if (reply.aborted) error.name = "AbortError";
        waiting.reject(error);
      }
    };
    worker.onerror = (event) => {
      for (const [, waiting] of pending) waiting.reject(new Error(event.message || "the hashing worker failed"));
      pending.clear();
      worker?.terminate();
      worker = null;
    };
  }
  return worker;
}

/** The file's blocks (content-defined, SHA-256), computed in the worker. */
export function hashFile(file: Blob, onProgress?: (done: number) => void, signal?: AbortSignal): Promise<Block[]> {
  const id = nextId++;
  const w = theWorker();
  return new Promise<Block[]>((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    signal?.addEventListener("abort", () => w.postMessage({ type: "cancel", id } satisfies HashRequest), { once: true });
    w.postMessage({ type: "hash", id, file } satisfies HashRequest);
  });
}
