import { useEffect, useState } from "preact/hooks";
import {
  api, errorText, onActivity, onChanged, onIssues, onShowView, onStatus, type Activity, type Snapshot, type Status,
} from "./api";
import { Setup } from "./setup";
import { Preferences } from "./preferences";

const ACTIVITY_SHOWN = 100;

// A snapshot and the events around it can arrive in any order; the event
// numbers (seq) decide what is newer, so nothing shown goes back in time.

function withSnapshot(shown: Snapshot | null, next: Snapshot): Snapshot {
  if (!shown) return next;
  const status = shown.status.seq > next.status.seq ? shown.status : next.status;
  const known = new Set(next.activity.map((a) => a.seq));
  const missed = shown.activity.filter((a) => a.seq > next.seq && !known.has(a.seq));
  const activity = [...missed, ...next.activity].sort((a, b) => b.seq - a.seq).slice(0, ACTIVITY_SHOWN);
  return { ...next, status, activity };
}

function withStatus(shown: Snapshot | null, status: Status): Snapshot | null {
  return shown && status.seq > shown.status.seq ? { ...shown, status } : shown;
}

function withActivity(shown: Snapshot | null, activity: Activity): Snapshot | null {
  if (!shown || shown.activity.some((a) => a.seq === activity.seq)) return shown;
  return { ...shown, activity: [activity, ...shown.activity].slice(0, ACTIVITY_SHOWN) };
}

export function App() {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [view, setView] = useState<{ name: string; at: number } | null>(null);

  const refresh = () =>
    api
      .snapshot()
      .then((next) => {
        setSnapshot((shown) => withSnapshot(shown, next));
        setFailure(null);
      })
      .catch((e) => setFailure(errorText(e)));

  useEffect(() => {
    refresh();
    const subscriptions = [
      onStatus((status) => setSnapshot((shown) => withStatus(shown, status))),
      onActivity((activity) => setSnapshot((shown) => withActivity(shown, activity))),
      onIssues((issues) => setSnapshot((shown) => (shown ? { ...shown, issues } : shown))),
      onShowView((name) => setView({ name, at: Date.now() })),
      onChanged(refresh),
    ];
    return () => subscriptions.forEach((p) => p.then((unlisten) => unlisten()));
  }, []);

  if (failure) return <div class="center muted">Drive could not start: {failure}</div>;
  if (!snapshot) return <div class="center muted">Loading…</div>;
  if (!snapshot.account || !snapshot.folder) return <Setup snapshot={snapshot} onDone={refresh} />;
  return <Preferences snapshot={snapshot} refresh={refresh} view={view} />;
}
