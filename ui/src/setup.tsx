import { useState } from "preact/hooks";
import { Cloud, FolderOpen, LogIn, UserPlus, ArrowRight } from "lucide-preact";
import { api, errorText, type Snapshot } from "./api";

/** The server's rule for new passwords (backend: weak_password). */
const MIN_PASSWORD = 8;

/** First run: the server, an account, then the folder to sync. */
export function Setup({ snapshot, onDone }: { snapshot: Snapshot; onDone: () => void }) {
  return (
    <div class="setup">
      <div class="setup-card">
        <div class="brand">
          <div class="brand-mark">
            <Cloud size={28} />
          </div>
          <div>
            <h1>Welcome to Drive</h1>
            <p class="muted">Your files, on every device.</p>
          </div>
        </div>
        <Steps current={snapshot.account ? 2 : 1} />
        {snapshot.account ? <FolderStep snapshot={snapshot} onDone={onDone} /> : <AccountStep snapshot={snapshot} onDone={onDone} />}
      </div>
    </div>
  );
}

function Steps({ current }: { current: number }) {
  return (
    <ol class="steps">
      <li class={current === 1 ? "active" : "done"}>Sign in</li>
      <li class={current === 2 ? "active" : ""}>Choose a folder</li>
    </ol>
  );
}

/** A form's submit handler that runs `action` once, then `onDone`; busy while it runs, its error in words. */
function useSubmit(action: () => Promise<unknown>, onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
      onDone();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, submit };
}

function AccountStep({ snapshot, onDone }: { snapshot: Snapshot; onDone: () => void }) {
  const [server, setServer] = useState(snapshot.default_server);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [create, setCreate] = useState(false);
  const { busy, error, submit } = useSubmit(() => {
    if (create && password.length < MIN_PASSWORD) {
      return Promise.reject({ message: `The password needs at least ${MIN_PASSWORD} characters.` });
    }
    if (create && password !== confirm) {
      return Promise.reject({ message: "The two passwords are not the same. Type them again." });
    }
    return api.signIn(server, email, password, create);
  }, onDone);

  return (
    <form class="form" onSubmit={submit}>
      <label>
        Server address
        <input id="server" type="url" required placeholder="https://drive.example.com" value={server}
          onInput={(e) => setServer(e.currentTarget.value)} />
      </label>
      <label>
        Email
        <input id="email" type="email" required autocomplete="username" value={email}
          onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input id="password" type="password" required autocomplete={create ? "new-password" : "current-password"}
          aria-describedby={create ? "password-rules" : undefined}
          value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {create && (
          <span class="muted small hint" id="password-rules">
            At least {MIN_PASSWORD} characters. A few unrelated words make a strong one.
          </span>
        )}
      </label>
      {create && (
        <label>
          Confirm password
          <input id="confirm-password" type="password" required autocomplete="new-password" value={confirm}
            onInput={(e) => setConfirm(e.currentTarget.value)} />
        </label>
      )}
      {error && <p class="error" id="form-error" role="alert">{error}</p>}
      <button id="sign-in" class="primary" type="submit" disabled={busy}>
        {create ? <UserPlus size={16} /> : <LogIn size={16} />}
        {busy ? "Please wait…" : create ? "Create account" : "Sign in"}
      </button>
      <p class="switch muted">
        {create ? "Already have an account?" : "New here?"}{" "}
        <button id="toggle-create" type="button" class="link" onClick={() => setCreate(!create)}>
          {create ? "Sign in instead" : "Create an account"}
        </button>
      </p>
    </form>
  );
}

function FolderStep({ snapshot, onDone }: { snapshot: Snapshot; onDone: () => void }) {
  const [folder, setFolder] = useState(snapshot.default_folder);
  const { busy, error, setError, submit } = useSubmit(() => api.chooseFolder(folder), onDone);

  const browse = async () => {
    try {
      const picked = await api.pickFolder();
      if (picked) setFolder(picked);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <form class="form" onSubmit={submit}>
      <p class="muted">
        Signed in as <strong>{snapshot.account?.email}</strong>. Files in this folder are kept in sync with your drive.
      </p>
      <label>
        Folder to sync
        <div class="row">
          <input id="folder" required value={folder} onInput={(e) => setFolder(e.currentTarget.value)} />
          <button id="browse" type="button" onClick={browse}>
            <FolderOpen size={16} /> Browse…
          </button>
        </div>
      </label>
      {error && <p class="error" id="form-error" role="alert">{error}</p>}
      <button id="start" class="primary" type="submit" disabled={busy}>
        {busy ? "Starting…" : "Start syncing"} <ArrowRight size={16} />
      </button>
    </form>
  );
}
