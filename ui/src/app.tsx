import { useEffect, useState } from "preact/hooks";
import { api, errorText, onActivity, onChanged, onStatus, type Snapshot } from "./api";
import { Setup } from "./setup";
import { Preferences } from "./preferences";

const ACTIVITY_SHOWN = 100;

export function App() {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const refresh = () =>
    api
      .snapshot()
      .then((s) => {
        setSnapshot(s);
        setFailure(null);
      })
      .catch((e) => setFailure(errorText(e)));

  useEffect(() => {
    refresh();
    const subscriptions = [
      onStatus((status) => setSnapshot((s) => (s ? { ...s, status } : s))),
      onActivity((activity) =>
        setSnapshot((s) => (s ? { ...s, activity: [activity, ...s.activity].slice(0, ACTIVITY_SHOWN) } : s)),
      ),
      onChanged(refresh),
    ];
    return () => subscriptions.forEach((p) => p.then((unlisten) => unlisten()));
  }, []);

  if (failure) return <div class="center muted">Drive could not start: {failure}</div>;
  if (!snapshot) return <div class="center muted">Loading…</div>;
  if (!snapshot.account || !snapshot.folder) return <Setup snapshot={snapshot} onDone={refresh} />;
  return <Preferences snapshot={snapshot} refresh={refresh} />;
}
