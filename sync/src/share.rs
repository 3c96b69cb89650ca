//! Public links to a file or folder of the drive, as `drive share` and the
//! desktop app's "Copy share link" make them.

use chrono::{DateTime, Utc};
use drive_wire::CreateLinkRequest;

use crate::remote::{Remote, RemoteError};

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{0} is not on the server yet: wait until it is synced")]
    NotUploaded(String),
    /// The route is missing: an older server without public links.
    #[error("this server does not offer public links; upgrade drive-server")]
    Unsupported,
    #[error("the server sent no URL for the new link")]
    NoUrl,
    #[error(transparent)]
    Remote(RemoteError),
}

/// What a new link allows; the default is a plain link that never expires.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    pub expires_at: Option<DateTime<Utc>>,
    pub password: Option<String>,
    pub max_downloads: Option<u32>,
}

/// Creates a public link to the item at `drive_path` (`/a/b.txt`); returns its URL.
pub async fn public_link(remote: &Remote, drive_path: &str, options: LinkOptions) -> Result<String, ShareError> {
    let node = match remote.lookup(drive_path).await {
        Err(RemoteError::NotFound) => return Err(ShareError::NotUploaded(drive_path.to_owned())),
        other => other.map_err(ShareError::Remote)?,
    };
    let request = CreateLinkRequest {
        node_id: node.id,
        expires_at: options.expires_at,
        password: options.password,
        max_downloads: options.max_downloads,
    };
    let link = match remote.create_link(&request).await {
        // The node exists (the lookup found it): a 404 here is the route.
        Err(RemoteError::NotFound) => return Err(ShareError::Unsupported),
        other => other.map_err(ShareError::Remote)?,
    };
    link.url.ok_or(ShareError::NoUrl)
}
