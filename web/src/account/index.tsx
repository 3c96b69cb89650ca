// The "Account" route: storage used, profile photo, password, signed-in devices.
import { useEffect, useRef, useState } from "preact/hooks";
import { Camera, Monitor, X } from "lucide-preact";
import { ProgressBar } from "@common/components";
import { formatBytes, percent, timeAgo } from "@common/format";
import { ApiError, api, apiFetch, errorText, session, type Session, type User } from "../api";
import { toast } from "../ui/toast";
import "./account.css";

interface ProfilePhoto {
  status: "processing" | "ready" | "failed";
  url: string | null;
  expires_at: string | null;
  content_type: string | null;
  size: number;
  original_format: string;
  original_width: number;
  original_height: number;
  original_bytes: number;
  uploaded_at: string;
  error: string | null;
}

/** The server refuses photos over 5 MiB (docs/API.md, "Profile photo"). */
const PHOTO_LIMIT = 5 * 1024 * 1024;

function useUser(): User | null {
  const [user, setUser] = useState(session.user());
  useEffect(() => session.subscribe((state) => setUser(state.user)), []);
  return user;
}

export function AccountPage() {
  const user = useUser();
  useEffect(() => {
    void session.reloadUser().catch(() => {});
  }, []);
  return (
    <div class="account-page">
      {user && <Storage user={user} />}
      <Photo />
      <Password />
      <Devices />
    </div>
  );
}

function Storage({ user }: { user: User }) {
  const used = percent(user.used_bytes, user.quota_bytes);
  return (
    <section class="account-card" aria-labelledby="account-storage">
      <h2 id="account-storage">Storage</h2>
      <p class="account-email">
        Signed in as <strong>{user.email}</strong>
      </p>
      <div class="storage">
        <ProgressBar value={used} label="Storage used" />
        <span class="storage-text">
          {formatBytes(user.used_bytes)} of {formatBytes(user.quota_bytes)} used ({used}%)
        </span>
      </div>
    </section>
  );
}

function Photo() {
  const [photo, setPhoto] = useState<ProfilePhoto | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [preview, setPreview] = useState<{ file: File; url: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const poll = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = async () => {
    try {
      const current = await api<ProfilePhoto>("GET", "/api/v1/account/photo");
      setPhoto(current);
      if (current.status === "processing") poll.current = setTimeout(load, 800);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setPhoto(null);
      else setError(errorText(e));
    } finally {
      setLoaded(true);
    }
  };
  useEffect(() => {
    void load();
    return () => {
      if (poll.current) clearTimeout(poll.current);
    };
  }, []);
  useEffect(() => () => preview && URL.revokeObjectURL(preview.url), [preview]);

  const choose = (file: File | undefined) => {
    setError(null);
    if (!file) return;
    if (file.size > PHOTO_LIMIT) {
      setError(`This image is ${formatBytes(file.size)}: photos can be at most 5 MB.`);
      return;
    }
    if (!/^image\/(jpeg|png|gif|webp)$/.test(file.type)) {
      setError("Choose a JPEG, PNG, GIF or WebP image.");
      return;
    }
    setPreview({ file, url: URL.createObjectURL(file) });
  };
  const upload = async () => {
    if (!preview) return;
    setBusy(true);
    setError(null);
    try {
      const response = await apiFetch("PUT", "/api/v1/account/photo", {
        body: preview.file,
        headers: { "Content-Type": preview.file.type || "application/octet-stream" },
      });
      setPhoto((await response.json()) as ProfilePhoto);
      setPreview(null);
      toast("Photo uploaded.");
      poll.current = setTimeout(load, 500);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await api<void>("DELETE", "/api/v1/account/photo");
      setPhoto(null);
      toast("Photo removed.");
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const shown = preview?.url ?? (photo?.status === "ready" ? photo.url : null);
  return (
    <section class="account-card" aria-labelledby="account-photo">
      <h2 id="account-photo">Profile photo</h2>
      <div class="photo-row">
        <div class="photo-frame" aria-busy={photo?.status === "processing"}>
          {shown ? (
            <img src={shown} alt={preview ? "Preview of the new photo" : "Your profile photo"} />
          ) : (
            <Camera size={36} aria-hidden="true" />
          )}
        </div>
        <div class="photo-side">
          {preview ? (
            <>
              <p class="muted small">
                Preview of {preview.file.name} ({formatBytes(preview.file.size)}). It will be cropped to a square.
              </p>
              <div class="buttons-row">
                <button type="button" class="primary" disabled={busy} onClick={upload}>
                  Save photo
                </button>
                <button type="button" disabled={busy} onClick={() => setPreview(null)}>
                  Cancel
                </button>
              </div>
            </>
          ) : (
            <>
              <p class="muted small">
                {!loaded
                  ? "Loading…"
                  : photo?.status === "processing"
                    ? "Processing your photo…"
                    : photo?.status === "failed"
                      ? `The last photo could not be used: ${photo.error ?? "unknown error"}.`
                      : photo
                        ? `Uploaded ${timeAgo(photo.uploaded_at)}.`
                        : "No photo yet. JPEG, PNG, GIF or WebP, up to 5 MB."}
              </p>
              <div class="buttons-row">
                <button type="button" onClick={() => input.current?.click()}>
                  <Camera size={16} aria-hidden="true" /> {photo ? "Change photo" : "Choose photo"}
                </button>
                {photo && (
                  <button type="button" class="danger" disabled={busy} onClick={remove}>
                    Remove
                  </button>
                )}
              </div>
            </>
          )}
          <input
            ref={input}
            class="visually-hidden photo-input"
            type="file"
            accept="image/jpeg,image/png,image/gif,image/webp"
            tabIndex={-1}
            aria-label="Profile photo file"
            onChange={(event) => {
              choose(event.currentTarget.files?.[0]);
              event.currentTarget.value = "";
            }}
          />
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
        </div>
      </div>
    </section>
  );
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setDone(false);
    if (next.length < 8) return setError("The new password needs at least 8 characters.");
    if (next !== again) return setError("The two new passwords differ.");
    setBusy(true);
    try {
      await api<void>("POST", "/api/v1/account/password", { current_password: current, new_password: next });
      setCurrent("");
      setNext("");
      setAgain("");
      setDone(true);
      toast("Password changed.");
    } catch (e) {
      setError(
        e instanceof ApiError && (e.code === "wrong_password" || e.code === "invalid_credentials" || e.status === 403)
          ? "The current password is not right."
          : errorText(e),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="account-card" aria-labelledby="account-password">
      <h2 id="account-password">Password</h2>
      <form class="password-form" onSubmit={submit}>
        <label>
          <span>Current password</span>
          <input
            type="password"
            name="current-password"
            autoComplete="current-password"
            required
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
          />
        </label>
        <label>
          <span>New password</span>
          <input
            type="password"
            name="new-password"
            autoComplete="new-password"
            required
            minLength={8}
            value={next}
            onInput={(e) => setNext(e.currentTarget.value)}
          />
        </label>
        <label>
          <span>New password again</span>
          <input
            type="password"
            name="new-password-again"
            autoComplete="new-password"
            required
            value={again}
            onInput={(e) => setAgain(e.currentTarget.value)}
          />
        </label>
        <div class="buttons-row">
          <button type="submit" class="primary" disabled={busy}>
            Change password
          </button>
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {done && (
          <p class="ok-note" role="status">
            Your password was changed. Every other device was signed out.
          </p>
        )}
      </form>
    </section>
  );
}

function Devices() {
  const [list, setList] = useState<Session[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api<Session[]>("GET", "/api/v1/auth/sessions")
      .then((sessions) => setList(sessions))
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    void load();
  }, []);
  const revoke = async (item: Session) => {
    try {
      if (item.current) {
        await session.signOut();
        return;
      }
      await api<void>("DELETE", `/api/v1/auth/sessions/${item.id}`);
      toast(`${item.device_name ?? "The device"} is signed out.`);
      void load();
    } catch (e) {
      toast(errorText(e), true);
    }
  };
  return (
    <section class="account-card" aria-labelledby="account-devices">
      <h2 id="account-devices">Signed-in devices</h2>
      {error && <p class="error">{error}</p>}
      {list && (
        <ul class="devices">
          {list.map((item) => (
            <li key={item.id} class="device" data-current={item.current ? "true" : undefined}>
              <Monitor size={18} aria-hidden="true" />
              <span class="grow">
                <span>
                  {item.device_name ?? "Unnamed device"}
                  {item.current && <span class="badge">This browser</span>}
                </span>
                <span class="muted small">
                  Signed in {timeAgo(item.created_at)} · last used {timeAgo(item.last_used_at)}
                </span>
              </span>
              <button
                type="button"
                class={item.current ? "" : "danger"}
                aria-label={item.current ? "Sign out of this browser" : `Sign out ${item.device_name ?? "this device"}`}
                onClick={() => revoke(item)}
              >
                <X size={16} aria-hidden="true" /> {item.current ? "Sign out" : "Revoke"}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
