import { useEffect, useState } from "preact/hooks";
import {
  Activity as ActivityIcon, AlertTriangle, ArrowDown, ArrowUp, CheckCircle2, CloudOff, FolderOpen, FolderPlus,
  Gauge, Globe, LogOut, MoveRight, PauseCircle, Play, Pause, RefreshCw, Settings2, Trash2, User, Copy, Undo2,
  Link2, FileWarning, GitFork, ExternalLink, Search,
} from "lucide-preact";
import { Field, ProgressBar } from "@common/components";
import { FolderChooser } from "./folders";
import { formatBytes, formatEta, formatSpeed, percent, timeAgo } from "@common/format";
import {
  api, errorText, type Action, type Activity, type Held, type Issue, type Quota, type Snapshot, type Summary,
  type Transfer,
} from "./api";

type Tab = "activity" | "issues" | "account" | "folder" | "network" | "general";

const TABS: { id: Tab; label: string; icon: typeof ActivityIcon }[] = [
  { id: "activity", label: "Activity", icon: ActivityIcon },
  { id: "issues", label: "Issues", icon: AlertTriangle },
  { id: "account", label: "Account", icon: User },
  { id: "folder", label: "Folder", icon: FolderOpen },
  { id: "network", label: "Network", icon: Gauge },
  { id: "general", label: "General", icon: Settings2 },
];

export function Preferences({ snapshot, refresh, view }: {
  snapshot: Snapshot;
  refresh: () => void;
  view: { name: string; at: number } | null;
}) {
  const [tab, setTab] = useState<Tab>("activity");
  const [error, setError] = useState<string | null>(null);
  // The tray's "problems need you" opens the issues.
  useEffect(() => {
    if (view && TABS.some((t) => t.id === view.name)) setTab(view.name as Tab);
  }, [view]);
  const run = (action: () => Promise<unknown>) => () => {
    setError(null);
    action().then(refresh, (e) => setError(errorText(e)));
  };
  const act = (action: () => Promise<unknown>) => {
    setError(null);
    action().catch((e) => setError(errorText(e)));
  };
  const paused = snapshot.settings.paused;
  const issues = snapshot.issues.length;

  return (
    <div class="shell">
      <aside class="sidebar">
        <div class="sidebar-brand">Drive</div>
        <nav>
          {TABS.map(({ id, label, icon: Icon }) => (
            <button id={`tab-${id}`} class={tab === id ? "nav active" : "nav"} onClick={() => setTab(id)}>
              <Icon size={17} /> {label}
              {id === "issues" && issues > 0 && (
                <span class="badge" id="issues-badge" aria-label={`${issues} to look at`}>{issues}</span>
              )}
            </button>
          ))}
        </nav>
        <div class="sidebar-foot muted">Version {snapshot.version}</div>
      </aside>
      <main class="content">
        <header class="status-bar">
          <StatusPill summary={snapshot.status.summary} label={snapshot.status.label} />
          <div class="actions toolbar">
            <button id="pause" title={paused ? "Resume" : "Pause"} aria-label={paused ? "Resume" : "Pause"} onClick={run(() => api.setPaused(!paused))}>
              {paused ? <Play size={16} /> : <Pause size={16} />} <span class="label">{paused ? "Resume" : "Pause"}</span>
            </button>
            <button id="open-folder" title="Open folder" aria-label="Open folder" onClick={run(api.openFolder)}>
              <FolderOpen size={16} /> <span class="label">Open folder</span>
            </button>
            <button id="open-web" title="Open on the web" aria-label="Open on the web" onClick={run(() => api.openWeb())}>
              <Globe size={16} /> <span class="label">Open on the web</span>
            </button>
          </div>
        </header>
        {error && <p class="error banner" role="alert">{error}</p>}
        <section class="panel">
          {tab === "activity" && <ActivityPanel snapshot={snapshot} act={act} showIssues={() => setTab("issues")} />}
          {tab === "issues" && <IssuesPanel snapshot={snapshot} act={act} />}
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
      case "syncing": case "starting": case "checking": return [RefreshCw, "busy"] as const;
      case "paused": return [PauseCircle, "quiet"] as const;
      case "offline": return [CloudOff, "quiet"] as const;
      default: return [AlertTriangle, "bad"] as const;
    }
  })();
  const detail = "message" in summary ? summary.message : null;
  return (
    <div class={`pill ${tone}`} title={detail ?? undefined}>
      <Icon size={18} class={summary.state === "syncing" || summary.state === "checking" ? "spin" : ""} />
      <span class="pill-text" title={label}><span id="status-label">{label}</span></span>
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
  conflict_kept: GitFork,
  conflict_copy: GitFork,
  moved_out_of_share: Copy,
};

/** Files moving now: name, percent, bytes, speed and time left; how many wait. */
function Progress({ snapshot }: { snapshot: Snapshot }) {
  const { summary, transfers, bytes_left } = snapshot.status;
  if (summary.state !== "syncing" && transfers.length === 0) return null;
  const files = summary.state === "syncing" ? summary.files : transfers.length;
  const waiting = Math.max(0, files - transfers.length);
  return (
    <section class="progress-card" id="progress" aria-label="Syncing now">
      <h3>
        <RefreshCw size={16} class="spin" /> Syncing {files === 1 ? "1 file" : `${files} files`}
        {bytes_left > 0 && <span class="muted"> · {formatBytes(bytes_left)} left</span>}
      </h3>
      {transfers.length > 0 && (
        <ul class="transfers">
          {transfers.map((t) => <TransferRow transfer={t} />)}
        </ul>
      )}
      <p class="muted small" id="waiting">
        {waiting === 0 ? "No other files waiting." : waiting === 1 ? "1 more file waiting." : `${waiting} more files waiting.`}
      </p>
    </section>
  );
}

function TransferRow({ transfer: t }: { transfer: Transfer }) {
  const name = t.path.split("/").pop() || t.path;
  const done = percent(t.done, t.total);
  const eta = formatEta(t.seconds_left);
  return (
    <li class="transfer" data-path={t.path}>
      <div class="transfer-line">
        <span class="name">{t.upload ? <ArrowUp size={14} /> : <ArrowDown size={14} />} {name}</span>
        <span class="percent">{done}%</span>
      </div>
      <ProgressBar value={done} label={`${name}: ${done}%`} />
      <div class="muted small transfer-line">
        <span class="bytes">{formatBytes(t.done)} of {formatBytes(t.total)}</span>
        <span>
          {t.bytes_per_second != null && <span class="speed">{formatSpeed(t.bytes_per_second)}</span>}
          {eta && <span class="eta"> · {eta} left</span>}
        </span>
      </div>
    </li>
  );
}

function ActivityPanel({ snapshot, act, showIssues }: {
  snapshot: Snapshot;
  act: (action: () => Promise<unknown>) => void;
  showIssues: () => void;
}) {
  // Re-render every half minute so that "just now" ages.
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
  const { watching } = snapshot.status;
  const issues = snapshot.issues.length;
  return (
    <>
      <h2>Activity</h2>
      <Progress snapshot={snapshot} />
      {issues > 0 && (
        <button class="notice" id="issues-notice" onClick={showIssues}>
          <AlertTriangle size={16} /> {issues === 1 ? "1 item needs" : `${issues} items need`} you: see Issues.
        </button>
      )}
      {watching && (
        <div class="problems" id="watching">
          <h3><AlertTriangle size={16} /> Some folders are checked every few seconds</h3>
          <p class="muted">{watching}</p>
        </div>
      )}
      {snapshot.activity.length === 0 ? (
        <p class="empty muted">Nothing has happened yet. Files you add to your folder show up here as they sync.</p>
      ) : (
        <ul id="activity" class="activity">
          {snapshot.activity.map((a) => <ActivityRow activity={a} act={act} />)}
        </ul>
      )}
    </>
  );
}

const ISSUE_ICONS = { skipped: Link2, failed: FileWarning, held: Trash2, conflict: GitFork } as const;

/** Everything that needs the user, each in words with what to do. */
function IssuesPanel({ snapshot, act }: { snapshot: Snapshot; act: (action: () => Promise<unknown>) => void }) {
  const { held } = snapshot.status;
  const others = snapshot.issues.filter((i) => i.kind !== "held");
  return (
    <>
      <h2>Issues</h2>
      {held && <HeldDeletions held={held} />}
      {others.length === 0 && !held ? (
        <p class="empty muted" id="no-issues">Nothing needs you. Everything that can sync is syncing.</p>
      ) : (
        <ul class="issues" id="issues">
          {others.map((issue) => <IssueRow issue={issue} act={act} />)}
        </ul>
      )}
    </>
  );
}

function IssueRow({ issue, act }: { issue: Issue; act: (action: () => Promise<unknown>) => void }) {
  const Icon = ISSUE_ICONS[issue.kind];
  const kindWords = { skipped: "Not synced", failed: "Could not sync", held: "Waiting for you", conflict: "Conflict" }[issue.kind];
  // Items left here (and conflicted copies) can be shown in their folder.
  const local = issue.kind === "skipped" || issue.kind === "conflict";
  return (
    <li class={`issue ${issue.kind}`} data-kind={issue.kind} data-path={issue.path}>
      <span class="issue-icon"><Icon size={16} /></span>
      <div class="issue-main">
        <span class="issue-kind small">{kindWords}</span>
        <strong class="issue-title">{issue.title}</strong>
        <span class="muted small">{issue.advice}</span>
        <span class="path muted">{issue.path}</span>
        {local && (
          <div class="row-actions">
            {issue.kind === "conflict" && (
              <button class="small-button" onClick={() => act(() => api.openItem(issue.path))}>
                <ExternalLink size={14} /> Open
              </button>
            )}
            <button class="small-button" onClick={() => act(() => api.revealItem(issue.path))}>
              <Search size={14} /> Show in folder
            </button>
          </div>
        )}
      </div>
    </li>
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

/** Actions that make sense on a file that is (still) here. */
const FILE_ACTIONS: Action[] = ["uploaded", "downloaded", "moved", "restored", "conflict_kept", "conflict_copy", "folder_created"];

function ActivityRow({ activity, act }: { activity: Activity; act: (action: () => Promise<unknown>) => void }) {
  const Icon = activity.error ? AlertTriangle : ACTION_ICONS[activity.action];
  const name = activity.path.split("/").pop() || activity.path;
  const conflict = activity.action === "conflict_kept" || activity.action === "conflict_copy";
  const here = !activity.error && FILE_ACTIONS.includes(activity.action);
  const classes = ["activity-item", activity.error ? "failed" : "", conflict ? "conflict" : "", here ? "clickable" : ""];
  return (
    <li class={classes.join(" ").trim()} data-path={activity.path} data-action={activity.action}>
      <span class="activity-icon"><Icon size={16} /></span>
      {here ? (
        <button class="activity-main as-row" title={`Open ${name}`} onClick={() => act(() => api.openItem(activity.path))}>
          <span class="name">{name}</span>
          <span class="muted small">
            {activity.text}
            {activity.path !== name && <> · {activity.path}</>}
          </span>
        </button>
      ) : (
        <span class="activity-main">
          <span class="name">{name}</span>
          <span class="muted small">
            {activity.text}
            {activity.path !== name && <> · {activity.path}</>}
            {activity.error && <> · {activity.error}</>}
          </span>
        </span>
      )}
      {here && (
        <span class="row-actions">
          <button class="icon-button reveal" title="Show in folder" aria-label={`Show ${name} in its folder`}
            onClick={() => act(() => api.revealItem(activity.path))}><Search size={15} /></button>
          <button class="icon-button share" title="Copy share link" aria-label={`Copy a share link to ${name}`}
            onClick={() => act(() => api.shareItem(activity.path))}><Link2 size={15} /></button>
          <button class="icon-button web" title="Open on the web" aria-label="Open on the web"
            onClick={() => act(() => api.openWeb(activity.path))}><Globe size={15} /></button>
        </span>
      )}
      <span class="muted small when">{timeAgo(activity.at)}</span>
    </li>
  );
}

function AccountPanel({ snapshot, refresh }: { snapshot: Snapshot; refresh: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [quota, setQuota] = useState<Quota | null>(null);
  const [quotaError, setQuotaError] = useState<string | null>(null);
  const account = snapshot.account;
  useEffect(() => {
    api.quota().then(setQuota, (e) => setQuotaError(errorText(e)));
  }, [snapshot.status.last_synced]);
  const signOut = () => api.signOut().then(refresh, (e) => setError(errorText(e)));
  return (
    <>
      <h2>Account</h2>
      <Field label="Signed in as"><span id="account-email">{account?.email}</span></Field>
      <Field label="Server"><span class="path">{account?.server}</span></Field>
      <Field label="Space used">
        {quota ? (
          <span class="quota" id="quota">
            <span id="quota-label">{quota.label}</span>
            {quota.quota_bytes > 0 && (
              <ProgressBar value={percent(quota.used_bytes, quota.quota_bytes)} label="Space used on the server" />
            )}
          </span>
        ) : (
          <span class="muted" id="quota-label">{quotaError ?? "Asking the server…"}</span>
        )}
      </Field>
      <Field label="Sign-in kept in" hint="Your password is never stored."><span>{account?.keyring}</span></Field>
      {error && <p class="error">{error}</p>}
      {confirming ? (
        <div class="confirm" id="sign-out-confirm" role="alertdialog" aria-labelledby="sign-out-title">
          <h3 id="sign-out-title">Sign out of Drive?</h3>
          <p class="muted small">
            Syncing stops and this computer forgets your account. Your files stay in your folder and on the server;
            signing in again syncs them without copying them twice.
          </p>
          <div class="buttons">
            <button id="sign-out-yes" class="danger-solid" onClick={signOut}><LogOut size={16} /> Sign out</button>
            <button id="sign-out-no" onClick={() => setConfirming(false)}>Cancel</button>
          </div>
        </div>
      ) : (
        <div class="buttons">
          <button id="sign-out" class="danger" onClick={() => setConfirming(true)}><LogOut size={16} /> Sign out…</button>
        </div>
      )}
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
      <FolderChooser />
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
