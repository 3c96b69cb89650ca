// Sharing with people and public links (docs/API.md, "Sharing with people", "Public links").
import { api } from "../api";
import type { NodeId } from "../api";

export type ShareRole = "viewer" | "editor";

export interface Share {
  id: number;
  node_id: NodeId;
  name: string;
  kind: "file" | "folder";
  role: ShareRole;
  owner_id: number;
  owner_email: string;
  grantee_id: number;
  grantee_email: string;
  created_at: string;
  accepted_at: string | null;
  mount_name: string | null;
}

export interface ShareList {
  shared_by_me: Share[];
  shared_with_me: Share[];
}

export interface Link {
  id: number;
  node_id: NodeId;
  path: string | null;
  url: string | null;
  created_at: string;
  expires_at: string | null;
  has_password: boolean;
  max_downloads: number | null;
  downloads: number;
  revoked: boolean;
}

export type AuditKind =
  | "link_created"
  | "link_revoked"
  | "link_downloaded"
  | "link_password_failed"
  | "share_created"
  | "share_role_changed"
  | "share_revoked"
  | "share_accepted"
  | "share_left";

export interface AuditEvent {
  id: number;
  at: string;
  kind: AuditKind;
  actor_id: number | null;
  actor_email: string | null;
  node_id: NodeId | null;
  link_id: number | null;
  share_id: number | null;
  ip: string | null;
  detail: string | null;
}

export interface AuditPage {
  events: AuditEvent[];
  next_before: number | null;
}

export const shares = {
  list: () => api<ShareList>("GET", "/api/v1/shares"),
  create: (node_id: NodeId, email: string, role: ShareRole) =>
    api<Share>("POST", "/api/v1/shares", { node_id, email, role }),
  setRole: (id: number, role: ShareRole) => api<Share>("PATCH", `/api/v1/shares/${id}`, { role }),
  accept: (id: number) => api<Share>("POST", `/api/v1/shares/${id}/accept`),
  /** Revokes (the owner) or leaves / declines (the grantee). */
  remove: (id: number) => api<void>("DELETE", `/api/v1/shares/${id}`),
};

export interface NewLink {
  node_id: NodeId;
  expires_at?: string;
  password?: string;
  max_downloads?: number;
}

export const links = {
  list: () => api<Link[]>("GET", "/api/v1/links"),
  create: (body: NewLink) => api<Link>("POST", "/api/v1/links", body),
  revoke: (id: number) => api<void>("DELETE", `/api/v1/links/${id}`),
  audit: (before?: number | null) =>
    api<AuditPage>("GET", `/api/v1/audit?limit=50${before ? `&before=${before}` : ""}`),
};

/** Whether a link still works: not revoked, not expired, downloads left. */
export function linkState(link: Link, now = Date.now()): "active" | "revoked" | "expired" | "exhausted" {
  if (link.revoked) return "revoked";
  if (link.expires_at && Date.parse(link.expires_at) <= now) return "expired";
  if (link.max_downloads != null && link.downloads >= link.max_downloads) return "exhausted";
  return "active";
}

/** Copies text to the clipboard; false when the browser refuses. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not allowed (no focus, an insecure origin): select it in a textarea and copy.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
