//! Requests and responses of the JSON API, grouped by the server module that
//! owns the route.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::BlockHash;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

pub type UserId = i64;
pub type NodeId = i64;
pub type RevisionId = i64;
pub type SessionId = i64;

// ---------------------------------------------------------------- errors

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `stale_revision`, `invalid_name`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Id of the request, also in the `x-request-id` header; quote it in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For `stale_revision`: the file as it is now on the server (absent when
    /// the file no longer exists there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Box<Node>>,
    /// For `missing_blocks`: the blocks the server still lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<BlockHash>,
}

// ---------------------------------------------------------------- auth

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterRequest {
    /// Trimmed and lowercased by the server; at most 254 characters.
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub email: String,
    /// At least 8 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8))]
    pub password: String,
    /// Ignored: registering opens no session (the device names the session
    /// of the sign-in that follows, `POST /auth/login`). Accepted
    /// for older clients.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// The answer to a registration that was not refused (202), the same whether
/// the email was free (the account now exists) or already had an account
/// (nothing changed, that account's password included): so an anonymous
/// caller cannot tell which. Sign in with the same email and password next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterAnswer {
    pub status: RegisterStatus,
    /// For people: what to do next.
    pub message: String,
}

/// The `status` of a registration's answer: one value, whatever happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RegisterStatus {
    /// The account was created, or one with this email existed already.
    CreatedOrExists,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub device_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Issued at login and refresh. The refresh token is single-use: each
/// refresh returns a new one, and presenting a used one again revokes the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenPair {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    pub session_id: SessionId,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub root_id: NodeId,
    pub quota_bytes: u64,
    pub used_bytes: u64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Session {
    pub id: SessionId,
    pub device_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The session the request was made with.
    pub current: bool,
}

// ---------------------------------------------------------------- tree

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    File,
    Folder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Node {
    pub id: NodeId,
    /// `None` only for a user's root folder.
    pub parent_id: Option<NodeId>,
    /// Empty for the root folder.
    pub name: String,
    pub kind: NodeKind,
    /// Bytes of the current revision; 0 for folders.
    pub size: u64,
    /// Current revision of a file; `None` for folders.
    pub revision: Option<RevisionId>,
    /// Modification time the client gave with the current revision (files), or
    /// the time of the last change (folders).
    pub modified: DateTime<Utc>,
    /// When the node went to the trash, if it is there.
    pub trashed_at: Option<DateTime<Utc>>,
    /// The caller may read but not change this node: it is in a folder shared
    /// with them as a viewer. Every write under it answers 403 `read_only`.
    #[serde(default)]
    pub read_only: bool,
    /// Set on the root of a folder or file shared with the caller: there its
    /// `parent_id` and `name` are where it is mounted in the caller's tree
    /// (their root folder, under a name of their own), not in the owner's.
    #[serde(default)]
    pub share_id: Option<ShareId>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Name,
    Size,
    Modified,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListQuery {
    #[serde(default)]
    pub sort: SortKey,
    #[serde(default)]
    pub order: SortOrder,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PathQuery {
    /// `/`-separated path from the root folder, e.g. `/Photos/2026/a.jpg`:
    /// names (at most 255 bytes each), none `.` or `..`, no NUL; empty
    /// segments are skipped.
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = r"^/*(?:(?:[^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+)(?:/+(?:[^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+))*)?/*$"
        )
    )]
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateFolderRequest {
    pub parent_id: NodeId,
    /// A name: 1 to 255 bytes of UTF-8 after NFC normalization, without `/`
    /// or NUL, not `.` or `..`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 255,
            pattern = r"^(?:[^/\x00]{3,}|[^/\x00.][^/\x00]?|\.[^/\x00.])$"
        )
    )]
    pub name: String,
}

/// Rename and/or move a node. Omitted fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateNodeRequest {
    /// The new name (same rule as everywhere: 1 to 255 bytes, no `/` or NUL,
    /// not `.` or `..`).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 255,
            pattern = r"^(?:[^/\x00]{3,}|[^/\x00.][^/\x00]?|\.[^/\x00.])$"
        )
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<NodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Revision {
    pub id: RevisionId,
    pub node_id: NodeId,
    pub size: u64,
    pub block_count: u64,
    /// Modification time the client gave with this revision.
    pub modified: DateTime<Utc>,
    /// When the server stored it.
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- uploads

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BlockRef {
    /// SHA-256 of the block's bytes, 64 hex digits.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-fA-F]{64}$"))]
    pub hash: BlockHash,
    /// Bytes, 1 to 16 MiB.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 16777216))]
    pub size: u64,
}

/// What a client wants to commit: step 1 (`/uploads`) and step 3 (`/commits`)
/// take the same body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitRequest {
    pub parent_id: NodeId,
    /// A name: 1 to 255 bytes of UTF-8 after NFC normalization, without `/`
    /// or NUL, not `.` or `..`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 255,
            pattern = r"^(?:[^/\x00]{3,}|[^/\x00.][^/\x00]?|\.[^/\x00.])$"
        )
    )]
    pub name: String,
    /// Revision this content is based on; `None` to create a new file. If the
    /// file's current revision differs, the server answers 409 `stale_revision`.
    #[serde(default)]
    pub base_revision: Option<RevisionId>,
    /// Blocks in file order; their sizes add up to the file size.
    pub blocks: Vec<BlockRef>,
    /// The file's modification time on the client.
    pub modified: DateTime<Utc>,
    /// Step 3 only: the bytes of small blocks of this file (at most
    /// [`MAX_INLINE_BLOCK`] each), sent with the commit instead of PUT to a
    /// URL, which saves steps 1 and 2 for a small file. The server checks
    /// each against its hash and keeps it in its database; the bytes prove
    /// possession as a PUT does. A server that cannot take a block this way
    /// answers `missing_blocks` for it, and the client goes through step 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<InlineBlock>,
}

/// Blocks up to this size may travel inline (in a commit, in a manifest).
pub const MAX_INLINE_BLOCK: u64 = 8 * 1024;

/// A block's bytes in a JSON body, in standard base64 with padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InlineBlock {
    /// SHA-256 of the bytes, 64 hex digits.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-fA-F]{64}$"))]
    pub hash: BlockHash,
    /// The bytes, base64 (at most 8 KiB decoded).
    #[cfg_attr(feature = "openapi", schema(max_length = 10924))]
    pub data: String,
}

impl InlineBlock {
    pub fn new(hash: BlockHash, bytes: &[u8]) -> Self {
        Self {
            hash,
            data: inline_data(bytes),
        }
    }

    /// The bytes, if `data` is base64 at all (they are not checked against
    /// the hash here).
    pub fn bytes(&self) -> Option<Vec<u8>> {
        inline_bytes(&self.data)
    }
}

/// `bytes` as an inline block's `data`.
pub fn inline_data(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of an inline block's `data`, if it is base64.
pub fn inline_bytes(data: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PresignedBlock {
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    pub hash: BlockHash,
    pub size: u64,
    /// Presigned URL; PUT the block's bytes (upload) or GET them (download).
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// Headers the request must carry exactly as given, because the signature
    /// covers them: with S3, `x-amz-checksum-sha256` (the block's SHA-256 in
    /// base64), so that the store itself refuses other bytes, and
    /// `x-amz-meta-upload` (this upload's token, which proves the uploader
    /// sent the bytes). Empty for the local store.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// In a manifest, a block the server keeps in its database (see
    /// [`CommitRequest::inline`]): its bytes, base64, so that no GET is
    /// needed. The URL serves them too on the local store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl PresignedBlock {
    /// The bytes the block carries inline, if any (not checked against the
    /// hash here).
    pub fn inline_bytes(&self) -> Option<Vec<u8>> {
        self.data.as_deref().and_then(inline_bytes)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadPlan {
    /// Blocks the server lacks, each with a presigned PUT URL. Empty when every
    /// block is already stored: the client can commit straight away.
    pub missing: Vec<PresignedBlock>,
}

// ---------------------------------------------------------------- downloads

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RevisionQuery {
    /// A past revision of the file; the current one when omitted.
    #[serde(default)]
    pub revision: Option<RevisionId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Manifest {
    pub node_id: NodeId,
    pub revision: RevisionId,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// Blocks in file order, each with a presigned GET URL.
    pub blocks: Vec<PresignedBlock>,
}

// ---------------------------------------------------------------- changes

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    /// New content (a commit or a restored revision).
    Updated,
    /// Renamed and/or moved.
    Moved,
    /// Sent to the trash (with everything under it, for a folder).
    Trashed,
    /// Back from the trash.
    Restored,
    /// Gone for good.
    Purged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Change {
    /// Position in the user's feed; strictly increasing.
    pub seq: i64,
    pub kind: ChangeKind,
    pub node_id: NodeId,
    /// The node as it is now (a later change may already have altered it);
    /// `None` once purged.
    pub node: Option<Node>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ChangesQuery {
    /// Cursor from the previous answer; 0 for the whole history.
    #[serde(default)]
    pub since: i64,
    /// Seconds to wait for a change when there is none yet (long-poll), at most 60.
    #[serde(default)]
    pub wait: u64,
    /// At most this many changes (default and cap 1000; larger values count as 1000).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<u64>, maximum = 4294967295_u64))]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// Pass as `since` next time. Less than the `since` asked (with no
    /// changes): the feed went backwards, the server was restored from an
    /// older copy of its database; the cursor is then the newest this feed
    /// holds, and the client should relist instead of trusting its state.
    pub cursor: i64,
    /// More changes are waiting: ask again at once.
    pub has_more: bool,
    /// The server's database identity: generated once when its metadata
    /// store is created; a different value means another server, or one
    /// restored as new. Empty from servers that predate it.
    #[serde(default)]
    pub server_id: String,
}

// ---------------------------------------------------------------- links

pub type LinkId = i64;

/// A public link to a file or folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateLinkRequest {
    pub node_id: NodeId,
    /// After this time the link answers 410.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Asked before anything is shown; stored only as an argon2id hash.
    #[serde(default)]
    pub password: Option<String>,
    /// Completed downloads allowed; then the link answers 410.
    #[serde(default)]
    pub max_downloads: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Link {
    pub id: LinkId,
    pub node_id: NodeId,
    /// Path of the linked file or folder in its owner's drive (e.g.
    /// `/Photos/a.jpg`); `None` while it is in the trash.
    #[serde(default)]
    pub path: Option<String>,
    /// `{public_url}/s/{token}`: only in the answer to the creation (the
    /// server keeps only a hash of the token).
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub has_password: bool,
    pub max_downloads: Option<u32>,
    /// Completed downloads so far.
    pub downloads: u64,
    pub revoked: bool,
}

// ---------------------------------------------------------------- shares

pub type ShareId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShareRole {
    /// Reads and downloads; every write is refused.
    Viewer,
    /// Reads and writes like the owner, except sharing, links and the trash.
    Editor,
}

/// Share a file or folder of the caller's with another user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateShareRequest {
    pub node_id: NodeId,
    /// The email the other user signed up with.
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub email: String,
    pub role: ShareRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateShareRequest {
    pub role: ShareRole,
}

/// A file or folder shared between its owner and one grantee; the same record
/// is seen by both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Share {
    pub id: ShareId,
    pub node_id: NodeId,
    /// The shared node's name in the owner's drive.
    pub name: String,
    pub kind: NodeKind,
    pub role: ShareRole,
    pub owner_id: UserId,
    pub owner_email: String,
    pub grantee_id: UserId,
    pub grantee_email: String,
    pub created_at: DateTime<Utc>,
    /// When the grantee accepted it; until then it is not in their tree.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Its name in the grantee's root folder once accepted.
    pub mount_name: Option<String>,
}

/// `GET /api/v1/shares`: what the caller shares and what is shared with them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ShareList {
    pub shared_by_me: Vec<Share>,
    pub shared_with_me: Vec<Share>,
}

// ---------------------------------------------------------------- audit

/// What happened to shared content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    LinkCreated,
    LinkRevoked,
    /// A whole download, a zip, or a Range request from byte 0 through a link.
    LinkDownloaded,
    /// A wrong password given on a link's page.
    LinkPasswordFailed,
    ShareCreated,
    ShareRoleChanged,
    ShareRevoked,
    ShareAccepted,
    /// The grantee removed the share from their tree.
    ShareLeft,
}

/// One event of the audit log of sharing and links.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    /// The user who acted; `None` for an anonymous visitor of a link.
    pub actor_id: Option<UserId>,
    pub actor_email: Option<String>,
    pub node_id: Option<NodeId>,
    pub link_id: Option<LinkId>,
    #[serde(default)]
    pub share_id: Option<ShareId>,
    /// The address the request came from.
    pub ip: Option<String>,
    /// More about it, e.g. the path downloaded inside a linked folder.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Only events older than this id (the `next_before` of the previous page).
    #[serde(default)]
    pub before: Option<i64>,
    /// Events per page, at most 500 (default 100; larger values count as 500).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<u64>, maximum = 4294967295_u64))]
    pub limit: Option<u32>,
}

/// The newest events first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before` to read older events; `None` at the oldest.
    pub next_before: Option<i64>,
}

// ---------------------------------------------------------------- profile photo

/// Where a profile photo is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    /// Accepted; the 400x400 version is being made in the background.
    Processing,
    /// `url` serves the 400x400 version.
    Ready,
    /// The photo could not be processed (see `error`): upload another one.
    Failed,
}

/// The caller's profile photo. Only the 400x400 version is ever served, never
/// the uploaded original.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProfilePhoto {
    pub status: PhotoStatus,
    /// Presigned GET URL of the 400x400 photo, valid until `expires_at`;
    /// only when `ready`.
    pub url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// `image/jpeg`, or `image/png` when the photo has transparency; only when `ready`.
    pub content_type: Option<String>,
    /// Width and height of the served photo, in pixels.
    pub size: u32,
    /// Type of the uploaded file, decided by its bytes: `jpeg`, `png`, `gif` or `webp`.
    pub original_format: String,
    pub original_width: u32,
    pub original_height: u32,
    /// Bytes of the uploaded file.
    pub original_bytes: u64,
    pub uploaded_at: DateTime<Utc>,
    /// Why processing failed; only when `failed`.
    pub error: Option<String>,
}
