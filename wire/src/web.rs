//! Requests and responses of the routes the web app (and the desktop app's
//! "Open on the web") use: browser sessions, the hand-off into a signed-in
//! page, download URLs a browser can follow, and the password change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{NodeId, RevisionId, User};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The answer to a web sign-in or refresh: an access token for the page's
/// memory. The refresh token is in the HttpOnly cookie `drive_refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebSession {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The signed-in account, as `GET /api/v1/me` answers it.
    pub user: User,
}

/// A one-time URL that opens the web app signed in (valid 60 seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HandoffUrl {
    pub url: String,
}

/// How a browser is told to treat a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Saved as a file.
    #[default]
    Attachment,
    /// Shown in place, for types a browser shows safely (raster images, PDF,
    /// audio, video, plain text); other types come as an attachment, or as
    /// `text/plain` when they are text (HTML, SVG, XML...).
    Inline,
}

/// `POST /api/v1/download-urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DownloadUrlRequest {
    /// A file (its bytes) or a folder (a zip of it).
    pub node_id: NodeId,
    /// A revision of the file (as `?revision=` elsewhere); its current one when absent.
    #[serde(default)]
    pub revision: Option<RevisionId>,
    #[serde(default)]
    pub disposition: Disposition,
    /// With a folder: only these of its children (with everything inside
    /// them) go into its zip, a selection; all of them when absent. 1 to
    /// [`MAX_DOWNLOAD_CHILDREN`] ids, each a child of the folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub children: Option<Vec<NodeId>>,
}

/// Children of a folder one download URL may name at most.
pub const MAX_DOWNLOAD_CHILDREN: usize = 1000;

/// A URL that downloads without an `Authorization` header until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DownloadUrl {
    /// `/d/<token>`, relative to the server.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/account/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8))]
    pub new_password: String,
}
