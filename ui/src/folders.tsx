// Selective sync: the account's folders with a checkbox each. An unchecked
// folder stays on the server and leaves this computer once everything in it
// is there (the engine keeps one with changes not sent yet, and says so).
import { useEffect, useState } from "preact/hooks";
import { invoke } from "@tauri-apps/api/core";
import { ChevronDown, ChevronRight } from "lucide-preact";
import { formatBytes } from "@common/format";
import { errorText } from "./api";

/** A folder of the account (src-tauri: `get_folders`). */
export interface AccountFolder {
  path: string;
  excluded: boolean;
  bytes: number;
  /** Why this computer cannot hold it (its name, or one above it): it stays on the server. */
  unsyncable: string | null;
}

const parentOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
const nameOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

export function FolderChooser() {
  const [folders, setFolders] = useState<AccountFolder[] | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = () =>
    invoke<AccountFolder[]>("get_folders").then(setFolders, (e) => setNote(errorText(e)));
  useEffect(() => {
    load();
  }, []);

  if (folders === null) return <p class="muted small">Loading the folders of your drive…</p>;
  if (folders.length === 0)
    return <p class="muted small" id="no-folders">Your drive has no folders yet (or has not been read yet).</p>;

  const byParent = new Map<string, AccountFolder[]>();
  for (const f of folders) {
    const parent = parentOf(f.path);
    byParent.set(parent, [...(byParent.get(parent) ?? []), f]);
  }
  const excluded = new Set(folders.filter((f) => f.excluded).map((f) => f.path));
  // Excluded with a folder above it: only that folder can bring it back.
  const inherited = (path: string) => {
    for (let p = parentOf(path); p !== ""; p = parentOf(p)) if (excluded.has(p)) return true;
    return false;
  };
  const toggle = async (f: AccountFolder) => {
    setBusy(true);
    setNote(null);
    try {
      await invoke("set_folder_synced", { path: f.path, synced: f.excluded });
      setNote(
        f.excluded
          ? `${f.path} will download to this computer.`
          : `${f.path} stays on the server. It leaves this computer once everything in it is on the server.`,
      );
      await load();
    } catch (e) {
      setNote(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const flip = (path: string) => {
    const next = new Set(open);
    if (next.has(path)) next.delete(path);
    else next.add(path);
    setOpen(next);
  };

  const rows = (parent: string, depth: number): preact.JSX.Element[] =>
    (byParent.get(parent) ?? []).flatMap((f) => {
      const children = byParent.has(f.path);
      const expanded = open.has(f.path);
      const locked = inherited(f.path);
      const id = `folder-${f.path.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const why = f.unsyncable ? `Can't be on this computer: ${f.unsyncable}` : null;
      const row = (
        <li class="folder-row" style={{ paddingLeft: `${depth * 20}px` }} key={f.path}>
          {children ? (
            <button
              class="icon-button"
              aria-label={expanded ? `Collapse ${nameOf(f.path)}` : `Expand ${nameOf(f.path)}`}
              aria-expanded={expanded}
              onClick={() => flip(f.path)}
            >
              {expanded ? <ChevronDown size={14} /> : <ChevronRight size={14} />}
            </button>
          ) : (
            <span class="icon-spacer" />
          )}
          <input
            type="checkbox"
            id={id}
            data-path={f.path}
            checked={!f.excluded && !why}
            disabled={busy || locked || !!why}
            title={why ?? (locked ? "Comes back with the folder above it" : undefined)}
            aria-describedby={why ? `${id}-why` : undefined}
            onChange={() => toggle(f)}
          />
          <label for={id}>{nameOf(f.path)}</label>
          {why && (
            <span class="muted small folder-unsyncable" id={`${id}-why`}>
              {why}
            </span>
          )}
          <span class="muted small folder-size">{formatBytes(f.bytes)}</span>
        </li>
      );
      return expanded ? [row, ...rows(f.path, depth + 1)] : [row];
    });

  return (
    <div class="field column" id="folder-chooser">
      <div class="field-label">Folders on this computer</div>
      <div class="muted small">
        Unchecked folders stay on the server and in the web app. They are removed from this computer once everything in
        them is on the server; a folder with changes not sent yet stays until they are.
      </div>
      <ul class="folder-tree" aria-label="Folders of your drive">
        {rows("", 0)}
      </ul>
      {note && <p class="muted small" id="folders-note" role="status">{note}</p>}
    </div>
  );
}
