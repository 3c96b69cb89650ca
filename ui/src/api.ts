// Typed bridge to the app's Rust commands and events (src-tauri/src/commands.rs).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type Summary =
  | { state: "starting" }
  | { state: "up_to_date" }
  | { state: "checking" }
  | { state: "syncing"; files: number }
  | { state: "paused" }
  | { state: "offline"; message: string }
  | { state: "behind"; pending: number; failed: number; held: number }
  | { state: "signed_out"; message: string }
  | { state: "error"; message: string };

export interface PathError {
  path: string;
  message: string;
}

/** Files deleted here whose deletion on the server waits for the user's choice. */
export interface Held {
  files: number;
  of: number;
  paths: string[];
}

export interface Status {
  /** The engine's event number when this status was set: the larger is the newer. */
  seq: number;
  summary: Summary;
  label: string;
  errors: PathError[];
  held: Held | null;
  last_synced: string | null;
  /** Set when the system's watch limit leaves folders unwatched: why, and how to raise it. */
  watching: string | null;
  uploaded_bytes: number;
  downloaded_bytes: number;
  /** Files moving now. */
  transfers: Transfer[];
  /** Bytes the current pass still has to move, as far as known. */
  bytes_left: number;
  /** Local items left alone (links, unreadable files, bad names). */
  skipped: PathError[];
}

export interface Transfer {
  path: string;
  upload: boolean;
  done: number;
  total: number;
  bytes_per_second: number | null;
  seconds_left: number | null;
}

export type IssueKind = "skipped" | "failed" | "held" | "conflict";

/** A problem told for people: what happened and what to do. */
export interface Issue {
  kind: IssueKind;
  path: string;
  title: string;
  advice: string;
}

export interface Quota {
  used_bytes: number;
  /** 0: no limit. */
  quota_bytes: number;
  label: string;
}

export interface Notice {
  title: string;
  body: string;
  shown: boolean;
}

export type Action =
  | "uploaded"
  | "downloaded"
  | "folder_created"
  | "moved"
  | "restored"
  | "deleted_on_server"
  | "deleted_here"
  | "conflict_kept"
  | "conflict_copy"
  | "moved_out_of_share";

export interface Activity {
  /** The engine's event number, shared with Status.seq. */
  seq: number;
  at: string;
  path: string;
  action: Action;
  text: string;
  error: string | null;
}

export interface Account {
  server: string;
  email: string;
  /** Where the tokens are kept, in words. */
  keyring: string;
}

export interface Settings {
  paused: boolean;
  up_kib: number | null;
  down_kib: number | null;
  autostart: boolean;
}

export interface Snapshot {
  /** The engine's event number when the snapshot was taken; later events may be missing from it. */
  seq: number;
  account: Account | null;
  folder: string | null;
  default_folder: string;
  default_server: string;
  status: Status;
  activity: Activity[];
  issues: Issue[];
  settings: Settings;
  ignore: string;
  version: string;
}

/** How a command fails: a stable kind and a sentence for people. */
export interface CommandError {
  kind: string;
  message: string;
}

export function errorText(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) {
    return String((error as CommandError).message);
  }
  return String(error);
}

export const api = {
  snapshot: () => invoke<Snapshot>("get_snapshot"),
  signIn: (server: string, email: string, password: string, create: boolean) =>
    invoke<Account>("sign_in", { server, email, password, create }),
  signOut: () => invoke<void>("sign_out"),
  pickFolder: () => invoke<string | null>("pick_folder"),
  chooseFolder: (path: string) => invoke<string>("choose_folder", { path }),
  setPaused: (paused: boolean) => invoke<void>("set_paused", { paused }),
  decideHeld: (choice: "keep" | "delete") => invoke<void>("decide_held", { choice }),
  setLimits: (upKib: number | null, downKib: number | null) => invoke<void>("set_limits", { upKib, downKib }),
  setAutostart: (enabled: boolean) => invoke<void>("set_autostart", { enabled }),
  setIgnore: (patterns: string) => invoke<void>("set_ignore", { patterns }),
  openFolder: () => invoke<void>("open_folder"),
  /** The web app, signed in: at the folder of `path` (an item of the synced folder) if given. */
  openWeb: (path?: string) => invoke<void>("open_web", { path: path ?? null }),
  quota: () => invoke<Quota>("get_quota"),
  notices: () => invoke<Notice[]>("get_notices"),
  openItem: (path: string) => invoke<void>("open_item", { path }),
  revealItem: (path: string) => invoke<void>("reveal_item", { path }),
  shareItem: (path: string) => invoke<string>("share_item", { path }),
};

export function onStatus(handler: (status: Status) => void): Promise<UnlistenFn> {
  return listen<Status>("drive://status", (event) => handler(event.payload));
}

export function onActivity(handler: (activity: Activity) => void): Promise<UnlistenFn> {
  return listen<Activity>("drive://activity", (event) => handler(event.payload));
}

export function onIssues(handler: (issues: Issue[]) => void): Promise<UnlistenFn> {
  return listen<Issue[]>("drive://issues", (event) => handler(event.payload));
}

/** The tray asks for a view ("issues"). */
export function onShowView(handler: (view: string) => void): Promise<UnlistenFn> {
  return listen<string>("drive://show-view", (event) => handler(event.payload));
}

/** Something else changed (signed out from the tray, paused from the tray...). */
export function onChanged(handler: () => void): Promise<UnlistenFn> {
  return listen("drive://changed", () => handler());
}
