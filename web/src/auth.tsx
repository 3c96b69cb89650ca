// Sign in and create account.
import { useState } from "preact/hooks";
import { HardDrive } from "lucide-preact";
import { errorText, session } from "./api";

export const MIN_PASSWORD = 8;

/** Why a new password cannot be used, or null when it can. */
export function passwordProblem(password: string, confirm: string): string | null {
  if (password.length < MIN_PASSWORD) return `The password needs at least ${MIN_PASSWORD} characters.`;
  if (password !== confirm) return "The two passwords differ.";
  return null;
}

export function AuthScreen() {
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    if (mode === "register") {
      const problem = passwordProblem(password, confirm);
      if (problem) return setError(problem);
    }
    setBusy(true);
    try {
      if (mode === "signin") await session.signIn(email.trim(), password);
      else await session.register(email.trim(), password);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  }

  const registering = mode === "register";
  return (
    <main class="auth">
      <div class="auth-card">
        <div class="brand">
          <div class="brand-mark" aria-hidden="true">
            <HardDrive size={26} />
          </div>
          <div>
            <h1>{registering ? "Create your account" : "Sign in to Drive"}</h1>
            <p class="muted">Your files, from any browser.</p>
          </div>
        </div>
        <form class="form" onSubmit={submit} noValidate>
          <label>
            Email
            <input
              type="email"
              name="email"
              autoComplete="username"
              required
              value={email}
              onInput={(event) => setEmail(event.currentTarget.value)}
            />
          </label>
          <label>
            Password
            <input
              type="password"
              name="password"
              autoComplete={registering ? "new-password" : "current-password"}
              required
              minLength={registering ? MIN_PASSWORD : undefined}
              aria-describedby={registering ? "password-rules" : undefined}
              value={password}
              onInput={(event) => setPassword(event.currentTarget.value)}
            />
          </label>
          {registering && (
            <>
              <p id="password-rules" class="muted small">
                At least {MIN_PASSWORD} characters. A long passphrase is best.
              </p>
              <label>
                Confirm password
                <input
                  type="password"
                  name="confirm"
                  autoComplete="new-password"
                  required
                  value={confirm}
                  onInput={(event) => setConfirm(event.currentTarget.value)}
                />
              </label>
            </>
          )}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Please wait…" : registering ? "Create account" : "Sign in"}
          </button>
          <p class="switch">
            {registering ? "Have an account? " : "New here? "}
            <button
              type="button"
              class="link"
              onClick={() => {
                setMode(registering ? "signin" : "register");
                setError(null);
              }}
            >
              {registering ? "Sign in" : "Create an account"}
            </button>
          </p>
        </form>
      </div>
    </main>
  );
}
