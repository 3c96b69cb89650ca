import { useEffect, useState } from "preact/hooks";
import {
  Activity as ActivityIcon, AlertTriangle, ArrowDown, ArrowUp, CheckCircle2, CloudOff, FolderOpen, FolderPlus,
  Gauge, Globe, LogOut, MoveRight, PauseCircle, Play, Pause, RefreshCw, Settings2, Trash2, User, Copy, Undo2,
} from "lucide-preact";
import { Field } from "@common/components";
import { timeAgo } from "@common/format";
import { api, errorText, type Action, type Activity, type Held, type Snapshot, type Summary } from "./api";

type Tab = "activity" | "account" | "folder" | "network" | "general";

const TABS: { id: Tab; label: string; icon: typeof ActivityIcon }[] = [
  { id: "activity", label: "Activity", icon: ActivityIcon },
  { id: "account", label: "Account", icon: User },
  { id: "folder", label: "Folder", icon: FolderOpen },
  { id: "network", label: "Network", icon: Gauge },
  { id: "general", label: "General", icon: Settings2 },
];

export function Preferences({ snapshot, refresh }: { snapshot: Snapshot; refresh: () => void }) {
  const [tab, setTab] = useState<Tab>("activity");
  const [error, setError] = useState<string | null>(null);
  const run = (action: () => Promise<unknown>) => () => {
    setError(null);
    action().then(refresh, (e) => setError(errorText(e)));
  };
  const paused = snapshot.settings.paused;

  return (
    <div class="shell">
      <aside class="sidebar">
        <div class="sidebar-brand">Drive</div>
        <nav>
          {TABS.map(({ id, label, icon: Icon }) => (
            <button id={`tab-${id}`} class={tab === id ? "nav active" : "nav"} onClick={() => setTab(id)}>
              <Icon size={17} /> {label}
            </button>
          ))}
        </nav>
        <div class="sidebar-foot muted">Version {snapshot.version}</div>
      </aside>
      <main class="content">
        <header class="status-bar">
          <StatusPill summary={snapshot.status.summary} label={snapshot.status.label} />
          <div class="actions">
            <button id="pause" onClick={run(() => api.setPaused(!paused))}>
              {paused ? <Play size={16} /> : <Pause size={16} />} {paused ? "Resume" : "Pause"}
            </button>
            <button id="open-folder" onClick={run(api.openFolder)}>
              <FolderOpen size={16} /> Open folder
            </button>
            <button id="open-web" onClick={run(api.openWeb)}>
              <Globe size={16} /> Open on the web
            </button>
          </div>
        </header>
        {error && <p class="error banner" role="alert">{error}</p>}
        <section class="panel">
          {tab === "activity" && <ActivityPanel snapshot={snapshot} />}
          {tab === "account" && <AccountPanel snapshot={snapshot} refresh={refresh} />}
          {tab === "folder" && <FolderPanel snapshot={snapshot} refresh={refresh} />}
          {tab === "network" && <NetworkPanel snapshot={snapshot} refresh={refresh} />}
          {tab === "general" && <GeneralPanel snapshot={snapshot} refresh={refresh} />}
        </section>
      </main>
    </div>
  );
}

function StatusPill({ summary, label }: { summary: Summary; label: string }) {
  const [Icon, tone] = (() => {
    switch (summary.state) {
      case "up_to_date": return [CheckCircle2, "ok"] as const;
      case "syncing": case "starting": return [RefreshCw, "busy"] as const;
      case "paused": return [PauseCircle, "quiet"] as const;
      case "offline": return [CloudOff, "quiet"] as const;
      default: return [AlertTriangle, "bad"] as const;
    }
  })();
  const detail = "message" in summary ? summary.message : null;
  return (
    <div class={`pill ${tone}`} title={detail ?? undefined}>
      <Icon size={18} class={summary.state === "syncing" ? "spin" : ""} />
      <span id="status-label">{label}</span>
    </div>
  );
}

const ACTION_ICONS: Record<Action, typeof ArrowUp> = {
  uploaded: ArrowUp,
  downloaded: ArrowDown,
  folder_created: FolderPlus,
  moved: MoveRight,
  restored: Undo2,
  deleted_on_server: Trash2,
  deleted_here: Trash2,
  conflict_kept: Copy,
  moved_out_of_share: Copy,
};

function ActivityPanel({ snapshot }: { snapshot: Snapshot }) {
  // Re-render every half minute so that "just now" ages.
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
  const { errors, held, watching } = snapshot.status;
  return (
    <>
      <h2>Activity</h2>
      {held && <HeldDeletions held={held} />}
      {watching && (
        <div class="problems" id="watching">
          <h3><AlertTriangle size={16} /> Some folders are checked every few seconds</h3>
          <p class="muted">{watching}</p>
        </div>
      )}
      {errors.length > 0 && (
        <div class="problems">
          <h3><AlertTriangle size={16} /> Not synced yet</h3>
          <ul>
            {errors.map((e) => (
              <li><span class="path">{e.path}</span> <span class="muted">{e.message}</span></li>
            ))}
          </ul>
        </div>
      )}
      {snapshot.activity.length === 0 ? (
        <p class="empty muted">Nothing has happened yet. Files you add to your folder show up here as they sync.</p>
      ) : (
        <ul id="activity" class="activity">
          {snapshot.activity.map((a) => <ActivityRow activity={a} />)}
        </ul>
      )}
    </>
  );
}

/** Many files deleted here at once: asked, never sent on trust. */
function HeldDeletions({ held }: { held: Held }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const decide = (choice: "keep" | "delete") => {
    setBusy(true);
    api.decideHeld(choice).then(
      () => setBusy(false),
      (e) => {
        setBusy(false);
        setError(errorText(e));
      },
    );
  };
  const shown = held.paths.slice(0, 5);
  return (
    <div id="held" class="problems held" role="alertdialog" aria-labelledby="held-title">
      <h3 id="held-title"><AlertTriangle size={16} /> {held.files} of your {held.of} files were deleted here</h3>
      <p class="muted small">
        They are still on the server and on your other devices. If you did not mean to delete them (a disk that was
        not mounted, a folder emptied by mistake), keep them and they come back here.
      </p>
      <ul>
        {shown.map((path) => <li><span class="path">{path}</span></li>)}
        {held.paths.length > shown.length && <li class="muted">and {held.paths.length - shown.length} more</li>}
      </ul>
      <div class="actions">
        <button id="held-keep" class="primary" disabled={busy} onClick={() => decide("keep")}>Keep my files</button>
        <button id="held-delete" disabled={busy} onClick={() => decide("delete")}>Delete them everywhere</button>
      </div>
      {error && <p class="error">{error}</p>}
    </div>
  );
}

function ActivityRow({ activity }: { activity: Activity }) {
  const Icon = activity.error ? AlertTriangle : ACTION_ICONS[activity.action];
  const name = activity.path.split("/").pop() || activity.path;
  return (
    <li class={activity.error ? "activity-item failed" : "activity-item"} data-path={activity.path}>
      <span class="activity-icon"><Icon size={16} /></span>
      <span class="activity-main">
        <span class="name">{name}</span>
        <span class="muted small">
          {activity.text}
          {activity.path !== name && <> · {activity.path}</>}
          {activity.error && <> · {activity.error}</>}
        </span>
      </span>
      <span class="muted small when">{timeAgo(activity.at)}</span>
    </li>
  );
}

function AccountPanel({ snapshot, refresh }: { snapshot: Snapshot; refresh: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const account = snapshot.account;
  const signOut = () => api.signOut().then(refresh, (e) => setError(errorText(e)));
  return (
    <>
      <h2>Account</h2>
      <Field label="Signed in as"><span id="account-email">{account?.email}</span></Field>
      <Field label="Server"><span>{account?.server}</span></Field>
      <Field label="Sign-in kept in" hint="Your password is never stored."><span>{account?.keyring}</span></Field>
      {error && <p class="error">{error}</p>}
      <div class="buttons">
        <button id="sign-out" class="danger" onClick={signOut}><LogOut size={16} /> Sign out</button>
      </div>
    </>
  );
}

function FolderPanel({ snapshot, refresh }: { snapshot: Snapshot; refresh: () => void }) {
  const [ignore, setIgnore] = useState(snapshot.ignore);
  const [note, setNote] = useState<string | null>(null);
  const save = () =>
    api.setIgnore(ignore).then(
      () => {
        setNote("Saved. Matching files are left alone from now on.");
        refresh();
      },
      (e) => setNote(errorText(e)),
    );
  const move = async () => {
    const picked = await api.pickFolder().catch(() => null);
    if (picked) api.chooseFolder(picked).then(refresh, (e) => setNote(errorText(e)));
  };
  return (
    <>
      <h2>Folder</h2>
      <Field label="Synced folder">
        <span class="path" id="folder-path">{snapshot.folder}</span>
        <button onClick={move}><FolderOpen size={16} /> Change…</button>
      </Field>
      <div class="field column">
        <div class="field-label">Ignore patterns</div>
        <div class="muted small">One pattern a line, as in .gitignore (for example <code>*.tmp</code> or <code>build/</code>). Kept in the folder's .driveignore.</div>
        <textarea id="ignore" rows={7} spellcheck={false} value={ignore} onInput={(e) => setIgnore(e.currentTarget.value)} />
        <div class="buttons">
          <button id="save-ignore" class="primary" onClick={save}>Save patterns</button>
          {note && <span class="muted small">{note}</span>}
        </div>
      </div>
    </>
  );
}

function parseLimit(text: string): number | null {
  const value = Number.parseInt(text, 10);
  return Number.isFinite(value) && value > 0 ? value : null;
}

function NetworkPanel({ snapshot, refresh }: { snapshot: Snapshot; refresh: () => void }) {
  const [up, setUp] = useState(snapshot.settings.up_kib?.toString() ?? "");
  const [down, setDown] = useState(snapshot.settings.down_kib?.toString() ?? "");
  const [note, setNote] = useState<string | null>(null);
  const save = () =>
    api.setLimits(parseLimit(up), parseLimit(down)).then(
      () => {
        setNote("Saved.");
        refresh();
      },
      (e) => setNote(errorText(e)),
    );
  return (
    <>
      <h2>Network</h2>
      <Field label="Upload speed limit" hint="KiB/s; leave empty for no limit.">
        <input id="up-limit" class="narrow" inputMode="numeric" placeholder="No limit" value={up} onInput={(e) => setUp(e.currentTarget.value)} />
      </Field>
      <Field label="Download speed limit" hint="KiB/s; leave empty for no limit.">
        <input id="down-limit" class="narrow" inputMode="numeric" placeholder="No limit" value={down} onInput={(e) => setDown(e.currentTarget.value)} />
      </Field>
      <div class="buttons">
        <button id="save-limits" class="primary" onClick={save}>Save limits</button>
        {note && <span class="muted small">{note}</span>}
      </div>
    </>
  );
}

function GeneralPanel({ snapshot, refresh }: { snapshot: Snapshot; refresh: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const toggle = (enabled: boolean) => api.setAutostart(enabled).then(refresh, (e) => setError(errorText(e)));
  return (
    <>
      <h2>General</h2>
      <Field label="Start Drive when I log in" hint="Drive waits in the tray and keeps syncing.">
        <Switch id="autostart" checked={snapshot.settings.autostart} onChange={toggle} />
      </Field>
      <Field label="Pause syncing" hint="Nothing is sent or received until you resume.">
        <Switch id="paused" checked={snapshot.settings.paused} onChange={(p) => api.setPaused(p).then(refresh, (e) => setError(errorText(e)))} />
      </Field>
      {error && <p class="error">{error}</p>}
    </>
  );
}

function Switch({ id, checked, onChange }: { id: string; checked: boolean; onChange: (value: boolean) => void }) {
  return (
    <label class="switch-control">
      <input id={id} type="checkbox" role="switch" checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
      <span class="track"><span class="thumb" /></span>
    </label>
  );
}
