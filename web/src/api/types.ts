// The server's JSON shapes (wire/src/api.rs), as the web app reads them.

export type NodeId = number;
export type RevisionId = number;

export interface User {
  id: number;
  email: string;
  root_id: NodeId;
  quota_bytes: number;
  used_bytes: number;
  created_at: string;
}

export type NodeKind = "file" | "folder";

export interface Node {
  id: NodeId;
  parent_id: NodeId | null;
  name: string;
  kind: NodeKind;
  size: number;
  revision: RevisionId | null;
  modified: string;
  trashed_at: string | null;
  read_only?: boolean;
  share_id?: number | null;
}

export type SortKey = "name" | "size" | "modified";
export type SortOrder = "asc" | "desc";

export interface Revision {
  id: RevisionId;
  node_id: NodeId;
  size: number;
  block_count: number;
  modified: string;
  created_at: string;
}

export type ChangeKind = "created" | "updated" | "moved" | "trashed" | "restored" | "purged";

export interface Change {
  seq: number;
  kind: ChangeKind;
  node_id: NodeId;
  node: Node | null;
  at: string;
}

export interface ChangesPage {
  changes: Change[];
  cursor: number;
  has_more: boolean;
  server_id: string;
}

export interface Session {
  id: number;
  device_name: string | null;
  created_at: string;
  last_used_at: string;
  current: boolean;
}

export interface WebSession {
  access_token: string;
  expires_in: number;
  user: User;
}

export interface DownloadUrl {
  url: string;
  expires_at: string;
}

export interface ErrorBody {
  error: { code: string; message: string; request_id?: string; current?: Node; missing?: string[] };
}
