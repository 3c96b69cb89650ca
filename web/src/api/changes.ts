// The changes feed, followed by one long-poll while signed in; subscribers get
// each page's changes (and `relist` when the feed cannot be trusted).
import { api } from "./http";
import type { Change, ChangesPage } from "./types";

export type ChangesListener = (changes: Change[], relist: boolean) => void;

const listeners = new Set<ChangesListener>();
let running: AbortController | null = null;

export function onChanges(listener: ChangesListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(changes: Change[], relist: boolean) {
  for (const listener of listeners) listener(changes, relist);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** A cursor past every change: the server answers at once with the newest seq. */
const NOW = Number.MAX_SAFE_INTEGER;

export function startChanges(wait = 25): () => void {
  stopChanges();
  const controller = new AbortController();
  running = controller;
  const { signal } = controller;
  (async () => {
    let cursor: number | null = null;
    let serverId = "";
    let failures = 0;
    while (!signal.aborted) {
      try {
        const since: number = cursor ?? NOW;
        const page: ChangesPage = await api<ChangesPage>(
          "GET",
          `/api/v1/changes?since=${since}&wait=${cursor === null ? 0 : wait}&limit=1000`,
          undefined,
          { signal },
        );
        failures = 0;
        const backwards = cursor !== null && page.cursor < cursor;
        const otherServer = serverId !== "" && page.server_id !== serverId;
        serverId = page.server_id;
        if (cursor !== null && (backwards || otherServer)) emit([], true);
        else if (page.changes.length) emit(page.changes, false);
        cursor = page.cursor;
        if (!page.has_more && !page.changes.length && cursor === since) {
          // Caught up and the wait ran out: ask again at once.
        }
      } catch (error) {
        if (signal.aborted) break;
        failures += 1;
        // Offline or a server restart: back off, then relist what is open.
        await sleep(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)), signal);
        if (failures === 1) emit([], true);
        if (error instanceof Error && "status" in error && (error as { status: number }).status === 401) break;
      }
    }
  })();
  return stopChanges;
}

export function stopChanges() {
  running?.abort();
  running = null;
}
