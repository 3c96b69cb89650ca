// The one way the web app talks to drive-server: JSON in and out, the access
// token (kept in memory only) as a Bearer header, and on a 401 one refresh
// through the web session (HttpOnly cookie + CSRF header) and one retry.
import type { ErrorBody, User, WebSession } from "./types";

export class ApiError extends Error {
  status: number;
  code: string;
  requestId?: string;
  body?: ErrorBody["error"];
  constructor(status: number, code: string, message: string, body?: ErrorBody["error"]) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = body?.request_id;
    this.body = body;
  }
}

/** A message fit for a person, from whatever was thrown. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message || error.code;
  if (error instanceof DOMException && error.name === "AbortError") return "Cancelled.";
  if (error instanceof TypeError) return "The server cannot be reached. Check your connection and try again.";
  if (error instanceof Error) return error.message;
  return String(error);
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: ErrorBody["error"] | undefined;
  try {
    const json = (await response.json()) as Partial<ErrorBody>;
    body = json?.error;
  } catch {
    // Not JSON (a proxy's page, an empty body): the status says enough.
  }
  const code = body?.code ?? `http_${response.status}`;
  const message = body?.message ?? `${response.status} ${response.statusText || "error"}`;
  return new ApiError(response.status, code, message, body);
}

// ------------------------------------------------------------------ session

export type SignInState = "unknown" | "signed-in" | "signed-out";

interface SessionState {
  state: SignInState;
  user: User | null;
}

let accessToken: string | null = null;
let current: SessionState = { state: "unknown", user: null };
const listeners = new Set<(state: SessionState) => void>();

function publish(next: SessionState) {
  current = next;
  for (const listener of listeners) listener(current);
}

function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function csrfHeaders(): Record<string, string> {
  const token = readCookie("drive_csrf");
  return token ? { "X-CSRF-Token": token } : {};
}

async function postSession(path: string, body?: unknown): Promise<WebSession> {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...csrfHeaders() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as WebSession;
}

// A server without the web session routes (404 to /api/v1/web/*): the API's own
// token pair, the refresh token held in memory only (a reload signs out).
let legacyRefresh: string | null = null;

async function legacyLogin(path: string, body: unknown): Promise<WebSession> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await errorFrom(response);
  const pair = (await response.json()) as WebSession & { refresh_token: string };
  legacyRefresh = pair.refresh_token;
  return pair;
}

function adopt(answer: WebSession): User {
  accessToken = answer.access_token;
  publish({ state: "signed-in", user: answer.user });
  return answer.user;
}

let refreshing: Promise<boolean> | null = null;

/** One refresh at a time: every caller waiting on a 401 shares it. */
function refreshOnce(): Promise<boolean> {
  if (!refreshing) {
    const attempt = legacyRefresh
      ? legacyLogin("/api/v1/auth/refresh", { refresh_token: legacyRefresh })
      : postSession("/api/v1/web/refresh");
    refreshing = attempt
      .then((answer) => {
        adopt(answer);
        return true;
      })
      .catch(() => {
        accessToken = null;
        publish({ state: "signed-out", user: null });
        return false;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

export const session = {
  get(): SessionState {
    return current;
  },
  user(): User | null {
    return current.user;
  },
  state(): SignInState {
    return current.state;
  },
  /** Calls `listener` on every change; returns the unsubscribe. */
  subscribe(listener: (state: SessionState) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /** On page load: the refresh cookie, if any, gives a new access token. */
  async restore(): Promise<boolean> {
    return refreshOnce();
  },
  async signIn(email: string, password: string): Promise<User> {
    const body = { email, password, device_name: deviceName() };
    try {
      return adopt(await postSession("/api/v1/web/login", body));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      return adopt(await legacyLogin("/api/v1/auth/login", body));
    }
  },
  /** Register (202, the same whether or not the email was taken), then sign in. */
  async register(email: string, password: string, invite?: string): Promise<User> {
    const body: Record<string, string> = { email, password, device_name: deviceName() };
    if (invite) body.invite = invite;
    const response = await fetch("/api/v1/auth/register", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorFrom(response);
    try {
      return await session.signIn(email, password);
    } catch (error) {
      if (error instanceof ApiError && error.code === "invalid_credentials") {
        throw new ApiError(
          401,
          "invalid_credentials",
          "Could not sign in: an account with this email may already exist with another password. Sign in to it instead.",
        );
      }
      throw error;
    }
  },
  async signOut(): Promise<void> {
    try {
      if (legacyRefresh) {
        legacyRefresh = null;
        await fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${accessToken}` } });
        return;
      }
      await fetch("/api/v1/web/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { ...csrfHeaders(), ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}) },
      });
    } finally {
      accessToken = null;
      publish({ state: "signed-out", user: null });
    }
  },
  /** Reads GET /me again (quota after uploads and deletes). */
  async reloadUser(): Promise<User> {
    const user = await api<User>("GET", "/api/v1/me");
    if (current.state === "signed-in") publish({ state: "signed-in", user });
    return user;
  },
  /** The access token, for requests api() cannot make (XHR upload progress). */
  accessToken(): string | null {
    return accessToken;
  },
  refresh: refreshOnce,
};

function deviceName(): string {
  const agent = navigator.userAgent;
  const browser = /Firefox\//.test(agent)
    ? "Firefox"
    : /Edg\//.test(agent)
      ? "Edge"
      : /Chrom(e|ium)\//.test(agent)
        ? "Chrome"
        : /Safari\//.test(agent)
          ? "Safari"
          : "Browser";
  return `Web (${browser})`;
}

// ------------------------------------------------------------------ requests

/**
 * A request with the access token; on 401 refreshes once and retries. Answers
 * the Response (ok), or throws ApiError. For non-JSON bodies (a photo's bytes).
 */
export async function apiFetch(
  method: string,
  path: string,
  init: { body?: BodyInit | null; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const send = () =>
    fetch(path, {
      method,
      body: init.body,
      signal: init.signal,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(init.headers ?? {}),
        ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      },
    });
  let response = await send();
  if (response.status === 401 && (await refreshOnce())) response = await send();
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** JSON in, JSON out (undefined for 204). */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  init?: { signal?: AbortSignal },
): Promise<T> {
  const response = await apiFetch(method, path, {
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    signal: init?.signal,
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
