//! What every handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::{
    auth::{
        rate_limit::{LoginLimiter, RegisterLimiter},
        tokens::TokenKeys,
    },
    changes::ChangeHub,
    config::Config,
    photos::PhotoJobs,
    storage::{BlobStore, Db, LocalBlobStore},
    uploads::ProofLog,
};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    /// The identity of the metadata database ([`Db::server_identity`]),
    /// sent with every changes page.
    pub server_id: String,
    pub blobs: Arc<dyn BlobStore>,
    /// The blob store when it is the local one, whose URLs this server serves.
    pub local_blobs: Option<Arc<LocalBlobStore>>,
    /// Records the local store's PUTs, in groups.
    pub proofs: ProofLog,
    pub tokens: TokenKeys,
    /// Sign-ins per account and per client address, shared by the
    /// instances of the database.
    pub login_limiter: LoginLimiter,
    /// Registrations per client address (shared likewise).
    pub register_limiter: RegisterLimiter,
    /// Password attempts on public links, per link and client address and
    /// per client address (shared likewise).
    pub link_limiter: LoginLimiter,
    /// Signs the cookie that proves a link's password was given.
    pub link_cookie_key: Vec<u8>,
    /// Signs the download URLs of the web app (`/d/...`).
    pub download_key: Vec<u8>,
    /// Base of the URLs this server hands out, no trailing slash.
    pub public_url: String,
    pub changes: ChangeHub,
    /// Wakes the profile photo worker; limits decodes running at once.
    pub photo_jobs: PhotoJobs,
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
