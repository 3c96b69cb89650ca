// Sharing's mount points in the shell: the share dialog's body, the "Shared
// with me" route, and the "Links" route (every public link, and the audit log).
import { useEffect, useState } from "preact/hooks";
import { Check, Copy, Link2, Lock, UserPlus, X } from "lucide-preact";
import { formatDate, formatDateTime, timeAgo } from "@common/format";
import { errorText, type Node } from "../api";
import { folderPath, navigate } from "../router";
import { toast } from "../ui/toast";
import {
  copyText,
  linkState,
  links,
  shares,
  type AuditEvent,
  type AuditPage,
  type Link,
  type Share,
  type ShareRole,
} from "./api";
import "./sharing.css";

function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load()
      .then((value) => live && (setData(value), setError(null)))
      .catch((e) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

// ------------------------------------------------------------------ the share dialog

/** The per-item "Share…" dialog's body: people and public links of `node`. */
export function ShareDialog({ node, onClose }: { node: Node; onClose: () => void }) {
  if (node.share_id || node.read_only) {
    return (
      <div class="share-dialog">
        <p>Only the owner of “{node.name}” can share it or make links to it.</p>
        <div class="share-actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    );
  }
  return (
    <div class="share-dialog">
      <People node={node} />
      <PublicLinks node={node} />
      <div class="share-actions">
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </div>
  );
}

function People({ node }: { node: Node }) {
  const { data, error, reload } = useLoad(() => shares.list(), [node.id]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<ShareRole>("viewer");
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const mine = (data?.shared_by_me ?? []).filter((share) => String(share.node_id) === String(node.id));

  const invite = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFormError(null);
    try {
      const share = await shares.create(node.id, email.trim(), role);
      toast(`Shared with ${share.grantee_email} as ${share.role}.`);
      setEmail("");
      reload();
    } catch (e) {
      setFormError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const change = async (share: Share, next: ShareRole) => {
    try {
      await shares.setRole(share.id, next);
      toast(`${share.grantee_email} is now ${next === "editor" ? "an editor" : "a viewer"}.`);
      reload();
    } catch (e) {
      toast(errorText(e), true);
    }
  };
  const remove = async (share: Share) => {
    try {
      await shares.remove(share.id);
      toast(`${share.grantee_email} no longer has access.`);
      reload();
    } catch (e) {
      toast(errorText(e), true);
    }
  };

  return (
    <section class="share-section" aria-labelledby="share-people">
      <h3 id="share-people">People</h3>
      <form class="share-invite" onSubmit={invite}>
        <label class="grow">
          <span class="label">Email</span>
          <input
            type="email"
            name="share-email"
            required
            autoComplete="off"
            placeholder="name@example.com"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          <span class="label">Role</span>
          <select name="share-role" value={role} onChange={(e) => setRole(e.currentTarget.value as ShareRole)}>
            <option value="viewer">Viewer</option>
            <option value="editor">Editor</option>
          </select>
        </label>
        <button type="submit" class="primary" disabled={busy || !email.trim()}>
          <UserPlus size={16} aria-hidden="true" /> Invite
        </button>
      </form>
      {formError && (
        <p class="error" role="alert">
          {formError}
        </p>
      )}
      {error && <p class="error">{error}</p>}
      {data && mine.length === 0 && <p class="muted small">Not shared with anyone yet.</p>}
      {mine.length > 0 && (
        <ul class="share-people">
          {mine.map((share) => (
            <li key={share.id} data-email={share.grantee_email}>
              <span class="avatar" aria-hidden="true">
                {share.grantee_email.slice(0, 1).toUpperCase()}
              </span>
              <span class="grow">
                <span class="email">{share.grantee_email}</span>
                <span class="muted small">
                  {share.accepted_at ? `Accepted ${timeAgo(share.accepted_at)}` : "Invited · not accepted yet"}
                </span>
              </span>
              <select
                aria-label={`Role of ${share.grantee_email}`}
                value={share.role}
                onChange={(e) => change(share, e.currentTarget.value as ShareRole)}
              >
                <option value="viewer">Viewer</option>
                <option value="editor">Editor</option>
              </select>
              <button
                type="button"
                class="icon"
                aria-label={`Remove ${share.grantee_email}`}
                onClick={() => remove(share)}
              >
                <X size={16} aria-hidden="true" />
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function PublicLinks({ node }: { node: Node }) {
  const { data, error, reload } = useLoad(() => links.list(), [node.id]);
  const [expires, setExpires] = useState("");
  const [password, setPassword] = useState("");
  const [limit, setLimit] = useState("");
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [created, setCreated] = useState<Link | null>(null);
  const [copied, setCopied] = useState(false);
  const live = (data ?? []).filter((link) => String(link.node_id) === String(node.id) && !link.revoked);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFormError(null);
    try {
      const body: Parameters<typeof links.create>[0] = { node_id: node.id };
      // The end of the chosen day, local time.
      if (expires) body.expires_at = new Date(`${expires}T23:59:59`).toISOString();
      if (password) body.password = password;
      if (limit) body.max_downloads = Number(limit);
      const link = await links.create(body);
      setCreated(link);
      setCopied(false);
      setPassword("");
      reload();
    } catch (e) {
      setFormError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const copy = async (url: string) => {
    const ok = await copyText(url);
    setCopied(ok);
    toast(ok ? "Link copied." : "Could not copy: select the link and copy it.", !ok);
  };
  const revoke = async (link: Link) => {
    try {
      await links.revoke(link.id);
      if (created?.id === link.id) setCreated(null);
      toast("Link revoked: it no longer opens.");
      reload();
    } catch (e) {
      toast(errorText(e), true);
    }
  };
  const today = new Date().toISOString().slice(0, 10);

  return (
    <section class="share-section" aria-labelledby="share-links">
      <h3 id="share-links">Public link</h3>
      <form class="link-form" onSubmit={create}>
        <label>
          <span class="label">Expires</span>
          <input type="date" name="link-expires" min={today} value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
        </label>
        <label>
          <span class="label">Password</span>
          <input
            type="password"
            name="link-password"
            autoComplete="new-password"
            placeholder="None"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          <span class="label">Download limit</span>
          <input
            type="number"
            name="link-limit"
            min={1}
            placeholder="None"
            value={limit}
            onInput={(e) => setLimit(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          <Link2 size={16} aria-hidden="true" /> Create link
        </button>
      </form>
      {formError && (
        <p class="error" role="alert">
          {formError}
        </p>
      )}
      {created?.url && (
        <div class="link-created" role="status">
          <input class="link-url" readOnly value={created.url} aria-label="The new link" onFocus={(e) => e.currentTarget.select()} />
          <button type="button" onClick={() => copy(created.url!)}>
            {copied ? <Check size={16} aria-hidden="true" /> : <Copy size={16} aria-hidden="true" />} {copied ? "Copied" : "Copy"}
          </button>
          <p class="muted small">Copy it now: the link is shown only once.</p>
        </div>
      )}
      {error && <p class="error">{error}</p>}
      {live.length > 0 && (
        <ul class="share-links">
          {live.map((link) => (
            <li key={link.id}>
              <span class="grow">
                <LinkSummary link={link} />
              </span>
              <button type="button" class="danger" onClick={() => revoke(link)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function LinkSummary({ link }: { link: Link }) {
  const state = linkState(link);
  const parts = [`Created ${timeAgo(link.created_at)}`];
  parts.push(link.expires_at ? `expires ${formatDate(link.expires_at)}` : "no expiry");
  parts.push(
    link.max_downloads != null
      ? `${link.downloads} of ${link.max_downloads} downloads`
      : `${link.downloads} ${link.downloads === 1 ? "download" : "downloads"}`,
  );
  return (
    <span class="link-summary">
      {link.has_password && <Lock size={14} aria-label="Password protected" />}
      <span>{parts.join(" · ")}</span>
      {state !== "active" && <span class={`badge badge-${state}`}>{state}</span>}
    </span>
  );
}

// ------------------------------------------------------------------ shared with me

/** The "Shared with me" route: invitations to accept or decline, and what is mounted. */
export function SharedWithMe() {
  const { data, error, reload } = useLoad(() => shares.list());
  const [busy, setBusy] = useState<number | null>(null);
  const act = async (share: Share, action: "accept" | "decline" | "leave") => {
    setBusy(share.id);
    try {
      if (action === "accept") {
        const accepted = await shares.accept(share.id);
        toast(`“${accepted.mount_name ?? share.name}” is now in your files.`);
      } else {
        await shares.remove(share.id);
        toast(action === "decline" ? "Invitation declined." : `You left “${share.name}”.`);
      }
      reload();
    } catch (e) {
      toast(errorText(e), true);
    } finally {
      setBusy(null);
    }
  };
  const withMe = data?.shared_with_me ?? [];
  const pending = withMe.filter((share) => !share.accepted_at);
  const accepted = withMe.filter((share) => share.accepted_at);
  return (
    <div class="sharing-page">
      {error && <p class="error">{error}</p>}
      {data && withMe.length === 0 && <p class="muted">Nothing is shared with you yet.</p>}
      {pending.length > 0 && (
        <section aria-labelledby="shared-pending">
          <h2 id="shared-pending">Invitations</h2>
          <ul class="card-list">
            {pending.map((share) => (
              <li key={share.id} class="shared-item" data-share={share.name}>
                <span class="grow">
                  <strong>{share.name}</strong>
                  <span class="muted small">
                    {share.owner_email} invited you as {share.role === "editor" ? "an editor" : "a viewer"} ·{" "}
                    {timeAgo(share.created_at)}
                  </span>
                </span>
                <button type="button" class="primary" disabled={busy === share.id} onClick={() => act(share, "accept")}>
                  Accept
                </button>
                <button type="button" disabled={busy === share.id} onClick={() => act(share, "decline")}>
                  Decline
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {accepted.length > 0 && (
        <section aria-labelledby="shared-accepted">
          <h2 id="shared-accepted">In your files</h2>
          <ul class="card-list">
            {accepted.map((share) => (
              <li key={share.id} class="shared-item" data-share={share.name}>
                <span class="grow">
                  <strong>{share.mount_name ?? share.name}</strong>
                  <span class="muted small">
                    From {share.owner_email} · {share.role === "editor" ? "can edit" : "can view"}
                  </span>
                </span>
                {share.kind === "folder" && (
                  <button type="button" onClick={() => navigate(folderPath(String(share.node_id)))}>
                    Open
                  </button>
                )}
                <button type="button" disabled={busy === share.id} onClick={() => act(share, "leave")}>
                  Leave
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <SharedByMe shares={data?.shared_by_me ?? []} />
    </div>
  );
}

function SharedByMe({ shares: list }: { shares: Share[] }) {
  if (list.length === 0) return null;
  return (
    <section aria-labelledby="shared-by-me">
      <h2 id="shared-by-me">Shared by me</h2>
      <ul class="card-list">
        {list.map((share) => (
          <li key={share.id} class="shared-item">
            <span class="grow">
              <strong>{share.name}</strong>
              <span class="muted small">
                With {share.grantee_email} · {share.role} · {share.accepted_at ? "accepted" : "not accepted yet"}
              </span>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

// ------------------------------------------------------------------ links and audit

const AUDIT_TEXT: Record<AuditEvent["kind"], string> = {
  link_created: "Link created",
  link_revoked: "Link revoked",
  link_downloaded: "Downloaded through a link",
  link_password_failed: "Wrong link password",
  share_created: "Shared",
  share_role_changed: "Role changed",
  share_revoked: "Share removed",
  share_accepted: "Share accepted",
  share_left: "Share left",
};

/** The "Links" route: every public link of the user, and the audit log of links and shares. */
export function LinksPage() {
  const { data, error, reload } = useLoad(() => links.list());
  const revoke = async (link: Link) => {
    try {
      await links.revoke(link.id);
      toast("Link revoked: it no longer opens.");
      reload();
    } catch (e) {
      toast(errorText(e), true);
    }
  };
  return (
    <div class="links-page">
      {error && <p class="error">{error}</p>}
      {data && data.length === 0 && <p class="muted">No links yet. Share a file or folder to make one.</p>}
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table class="links-table">
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Password</th>
                <th scope="col">Downloads</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((link) => {
                const state = linkState(link);
                return (
                  <tr key={link.id} data-state={state}>
                    <td class="path">{link.path ?? "(in the trash)"}</td>
                    <td>{formatDate(link.created_at)}</td>
                    <td>{link.expires_at ? formatDate(link.expires_at) : "Never"}</td>
                    <td>{link.has_password ? "Yes" : "No"}</td>
                    <td>
                      {link.downloads}
                      {link.max_downloads != null ? ` of ${link.max_downloads}` : ""}
                    </td>
                    <td>
                      <span class={`badge badge-${state}`}>{state}</span>
                    </td>
                    <td>
                      {state === "active" && (
                        <button type="button" class="danger" onClick={() => revoke(link)}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <AuditLog />
    </div>
  );
}

function AuditLog() {
  const [pages, setPages] = useState<AuditPage[]>([]);
  const [error, setError] = useState<string | null>(null);
  const more = async (before: number | null) => {
    try {
      const page = await links.audit(before);
      setPages((old) => (before ? [...old, page] : [page]));
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    void more(null);
  }, []);
  const events = pages.flatMap((page) => page.events);
  const next = pages.length ? pages[pages.length - 1].next_before : null;
  return (
    <section class="audit" aria-labelledby="audit-title">
      <h2 id="audit-title">Activity</h2>
      {error && <p class="error">{error}</p>}
      {pages.length > 0 && events.length === 0 && <p class="muted">No activity yet.</p>}
      {events.length > 0 && (
        <ul class="audit-list">
          {events.map((event) => (
            <li key={event.id} data-kind={event.kind}>
              <span class="audit-kind">{AUDIT_TEXT[event.kind] ?? event.kind}</span>
              <span class="muted small">
                {[event.actor_email ?? (event.kind.startsWith("link_") ? "Anyone with the link" : null), event.detail, event.ip]
                  .filter(Boolean)
                  .join(" · ")}
              </span>
              <time class="muted small" dateTime={event.at}>
                {formatDateTime(event.at)}
              </time>
            </li>
          ))}
        </ul>
      )}
      {next && (
        <button type="button" onClick={() => more(next)}>
          Load older
        </button>
      )}
    </section>
  );
}
