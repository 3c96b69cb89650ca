//! Typed client of the `drive-server` HTTP API, shared by the sync engine and
//! the `drive` CLI.
//!
//! Every call is retried when its failure may pass by itself (no connection,
//! timeouts, 5xx, 429), with jittered exponential backoff so that many clients
//! coming back after an outage do not hammer the server in lockstep. Answers a
//! retry cannot change (other 4xx) come back at once as a [`RemoteError`] the
//! engine can act on: a stale revision means "keep both", missing blocks mean
//! "upload again", and so on.
//!
//! Access tokens are short-lived: on a 401 the client refreshes once and
//! replays. Refresh tokens are single-use and presenting a spent one revokes
//! the whole session, so refreshes are serialized behind one lock and each
//! rotation is handed to the caller at once, to be persisted before anything
//! else can happen.

use std::{fmt, future::Future, sync::Arc, time::Duration, time::Instant};

use backon::{ExponentialBuilder, Retryable};
use drive_wire::{
    ChangesPage, CommitBatch, CommitRequest, CreateFolderRequest, CreateLinkRequest, CreateShareRequest, FolderBatch,
    FolderBatchOutcomes, Link, LinkId, LoginRequest, Manifest, ManifestBatch, ManifestOutcomes, ManifestRequest, Node,
    NodeId, PlanBatch, PresignedBlock, RefreshRequest, RegisterRequest, RevisionId, Share, ShareId, ShareList,
    TokenPair, UpdateNodeRequest, UploadBatch, UploadPlan, User, API_PREFIX,
};
use reqwest::{header, Client, Method, RequestBuilder};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::{progress::Direction, throttle::Throttle};

/// Generous for a JSON call: a healthy server answers in milliseconds.
const API_TIMEOUT: Duration = Duration::from_secs(60);
/// Blocks are a few MiB; leave room for slow uplinks.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(300);
/// Headroom over a long-poll's wait, so that the server, not us, ends the poll.
const POLL_MARGIN: Duration = Duration::from_secs(30);
/// A 429 asking for a longer pause than this goes back to the caller rather
/// than leaving it hanging silently.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Retries after the first attempt.
const MAX_RETRIES: usize = 5;
/// Error bodies that are not ours (a proxy's HTML page) are cut to this length.
const MAX_ERROR_TEXT: usize = 300;
/// The largest answer read from a server: a block is at most 4 MiB and a
/// page of JSON far less; anything bigger is refused, not buffered.
const MAX_BODY: u64 = 64 * 1024 * 1024;

type Result<T> = std::result::Result<T, RemoteError>;

/// What is persisted between runs to stay signed in.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub access_token: String,
    pub refresh_token: String,
    pub user: drive_wire::User,
}

impl Session {
    fn new(server: String, pair: TokenPair) -> Self {
        Self {
            server,
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            user: pair.user,
        }
    }
}

/// Tokens stay out of logs and panic messages.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("user", &self.user.email)
            .finish_non_exhaustive()
    }
}

/// A signed-in connection to one server. Clones share the connection pool and
/// the tokens.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<Inner>,
}

struct Inner {
    http: Client,
    server: String,
    auth: Mutex<Auth>,
    on_refresh: Box<dyn Fn(&Session) + Send + Sync>,
    /// Speed limits for block content (API calls are not counted).
    throttle: Arc<Throttle>,
    /// The server answered 404 to a batch route: an older one, asked file by
    /// file from then on.
    no_batches: std::sync::atomic::AtomicBool,
}

struct Auth {
    session: Session,
    /// Why the session is over, once the server refused our refresh token:
    /// calls then fail fast instead of presenting a spent token again.
    ended: Option<String>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("server", &self.inner.server)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// `on_refresh` gets every rotated session and must persist it: after a
    /// refresh the stored refresh token is spent, and reusing it signs out.
    pub fn new(mut session: Session, on_refresh: impl Fn(&Session) + Send + Sync + 'static) -> Result<Self> {
        session.server = session.server.trim_end_matches('/').to_owned();
        let inner = Inner {
            http: client()?,
            server: session.server.clone(),
            auth: Mutex::new(Auth { session, ended: None }),
            on_refresh: Box::new(on_refresh),
            throttle: Arc::default(),
            no_batches: Default::default(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Registers, then signs in with the same email and password. The
    /// server answers a registration the same whether or not the email had an
    /// account already (and never with tokens), so only the sign-in tells:
    /// when it fails, [`RemoteError::EmailMayBeTaken`].
    pub async fn register(server: &str, email: &str, password: &str, device_name: &str) -> Result<Session> {
        let body = RegisterRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            device_name: None,
        };
        let server = server.trim_end_matches('/');
        let (http, path) = (client()?, "/auth/register");
        let url = api_url(server, path);
        // Any 2xx will do: the body says nothing about the account (an older
        // server's 201 carried tokens, which the sign-in below replaces).
        retrying(path, || {
            exchange(http.post(&url).timeout(API_TIMEOUT).json(&body), path)
        })
        .await?;
        match Self::login(server, email, password, device_name).await {
            Err(RemoteError::InvalidCredentials) => Err(RemoteError::EmailMayBeTaken),
            answer => answer,
        }
    }

    pub async fn login(server: &str, email: &str, password: &str, device_name: &str) -> Result<Session> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            device_name: Some(device_name.to_owned()),
        };
        sign_in(server, "/auth/login", &body).await
    }

    /// Revokes this session on the server; this `Remote` is unusable afterwards.
    pub async fn logout(&self) -> Result<()> {
        match self
            .call("/auth/logout", || self.request(Method::POST, "/auth/logout"))
            .await
        {
            // Already over on the server: that is what logging out wanted.
            Ok(_) | Err(RemoteError::Unauthorized { .. }) => {}
            Err(error) => return Err(error),
        }
        self.inner.auth.lock().await.ended = Some("signed out".to_owned());
        Ok(())
    }

    /// The speed limits of this connection's block transfers (shared by its clones).
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// The base URL, without a trailing `/`.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The session as it is now, with the latest tokens.
    pub async fn session(&self) -> Session {
        self.inner.auth.lock().await.session.clone()
    }

    pub async fn me(&self) -> Result<User> {
        self.get("/me").await
    }

    pub async fn node(&self, id: NodeId) -> Result<Node> {
        self.get(&format!("/nodes/{id}")).await
    }

    /// Folders first, then files, by name.
    pub async fn children(&self, id: NodeId) -> Result<Vec<Node>> {
        self.get(&format!("/nodes/{id}/children")).await
    }

    /// `path` is `/`-separated from the root folder, e.g. `/Photos/a.jpg`.
    pub async fn lookup(&self, path: &str) -> Result<Node> {
        decode(
            &self
                .call("/lookup", || {
                    self.request(Method::GET, "/lookup").query(&[("path", path)])
                })
                .await?,
        )
    }

    pub async fn create_folder(&self, parent_id: NodeId, name: &str) -> Result<Node> {
        let body = CreateFolderRequest {
            parent_id,
            name: name.to_owned(),
        };
        self.send(Method::POST, "/folders", &body).await
    }

    /// Renames and/or moves; `None` leaves that part as it is.
    pub async fn update_node(&self, id: NodeId, name: Option<&str>, parent_id: Option<NodeId>) -> Result<Node> {
        let body = UpdateNodeRequest {
            name: name.map(str::to_owned),
            parent_id,
        };
        self.send(Method::PATCH, &format!("/nodes/{id}"), &body).await
    }

    /// Sends a node (with its subtree) to the trash.
    pub async fn trash(&self, id: NodeId) -> Result<()> {
        let path = format!("/nodes/{id}");
        self.call(&path, || self.request(Method::DELETE, &path)).await.map(drop)
    }

    /// A public link to a node; its URL is in this answer only.
    pub async fn create_link(&self, request: &CreateLinkRequest) -> Result<Link> {
        self.send(Method::POST, "/links", request).await
    }

    /// The user's public links, newest first.
    pub async fn links(&self) -> Result<Vec<Link>> {
        self.get("/links").await
    }

    pub async fn revoke_link(&self, id: LinkId) -> Result<()> {
        let path = format!("/links/{id}");
        self.call(&path, || self.request(Method::DELETE, &path)).await.map(drop)
    }

    /// Shares a node with another user (or changes their role on it).
    pub async fn create_share(&self, request: &CreateShareRequest) -> Result<Share> {
        self.send(Method::POST, "/shares", request).await
    }

    /// What the user shares with others and what others share with them.
    pub async fn shares(&self) -> Result<ShareList> {
        self.get("/shares").await
    }

    /// Accepts a share: it is mounted in the user's root folder.
    pub async fn accept_share(&self, id: ShareId) -> Result<Share> {
        let path = format!("/shares/{id}/accept");
        decode(&self.call(&path, || self.request(Method::POST, &path)).await?)
    }

    /// Revokes a share (its owner) or leaves it (its grantee).
    pub async fn delete_share(&self, id: ShareId) -> Result<()> {
        let path = format!("/shares/{id}");
        self.call(&path, || self.request(Method::DELETE, &path)).await.map(drop)
    }

    /// Step 1 of an upload: which blocks the server still lacks.
    pub async fn prepare_upload(&self, request: &CommitRequest) -> Result<UploadPlan> {
        self.send(Method::POST, "/uploads", request).await
    }

    /// Step 3 of an upload. A replay after a lost answer may come back as
    /// `StaleRevision` or `NameTaken` although the first attempt succeeded;
    /// the engine's conflict handling covers that case.
    pub async fn commit(&self, request: &CommitRequest) -> Result<Node> {
        self.send(Method::POST, "/commits", request).await
    }

    /// Step 1 for many files at once: each file's plan, or its own error.
    /// A server without batches (an older one) is asked file by file.
    pub async fn prepare_uploads(&self, files: &[CommitRequest]) -> Result<Vec<Result<UploadPlan>>> {
        if self.batches_supported() {
            let batch = UploadBatch { files: files.to_vec() };
            match self.send::<PlanBatch>(Method::POST, "/uploads/batch", &batch).await {
                Ok(answer) => return answers(files.len(), answer.files, |o| (o.status, o.plan, o.error)),
                Err(RemoteError::NotFound) => self.no_batches(),
                Err(error) => return Err(error),
            }
        }
        let mut plans = Vec::with_capacity(files.len());
        for file in files {
            plans.push(self.prepare_upload(file).await);
        }
        Ok(plans)
    }

    /// Step 3 for many files at once, in one transaction on the server:
    /// each file's node, or its own error (as [`Remote::commit`] would).
    pub async fn commit_many(&self, files: &[CommitRequest]) -> Result<Vec<Result<Node>>> {
        if self.batches_supported() {
            let batch = UploadBatch { files: files.to_vec() };
            match self.send::<CommitBatch>(Method::POST, "/commits/batch", &batch).await {
                Ok(answer) => return answers(files.len(), answer.files, |o| (o.status, o.node, o.error)),
                Err(RemoteError::NotFound) => self.no_batches(),
                Err(error) => return Err(error),
            }
        }
        let mut nodes = Vec::with_capacity(files.len());
        for file in files {
            nodes.push(self.commit(file).await);
        }
        Ok(nodes)
    }

    /// Creates folders in existing folders, in one transaction on the
    /// server: each folder's node, or its own error (as
    /// [`Remote::create_folder`] would).
    pub async fn create_folders(&self, folders: &[(NodeId, String)]) -> Result<Vec<Result<Node>>> {
        if self.batches_supported() {
            let batch = FolderBatch {
                folders: folders
                    .iter()
                    .map(|(parent_id, name)| CreateFolderRequest {
                        parent_id: *parent_id,
                        name: name.clone(),
                    })
                    .collect(),
            };
            match self
                .send::<FolderBatchOutcomes>(Method::POST, "/folders/batch", &batch)
                .await
            {
                Ok(answer) => return answers(folders.len(), answer.folders, |o| (o.status, o.node, o.error)),
                Err(RemoteError::NotFound) => self.no_batches(),
                Err(error) => return Err(error),
            }
        }
        let mut nodes = Vec::with_capacity(folders.len());
        for (parent_id, name) in folders {
            nodes.push(self.create_folder(*parent_id, name).await);
        }
        Ok(nodes)
    }

    /// Many files' manifests at once (each the current one when its
    /// revision is `None`): each file's, or its own error. A server without
    /// batches is asked file by file.
    pub async fn manifests(&self, files: &[(NodeId, Option<RevisionId>)]) -> Result<Vec<Result<Manifest>>> {
        if self.batches_supported() {
            let batch = ManifestBatch {
                files: files
                    .iter()
                    .map(|&(id, revision)| ManifestRequest { id, revision })
                    .collect(),
            };
            match self
                .send::<ManifestOutcomes>(Method::POST, "/manifests/batch", &batch)
                .await
            {
                Ok(answer) => return answers(files.len(), answer.files, |o| (o.status, o.manifest, o.error)),
                Err(RemoteError::NotFound) => self.no_batches(),
                Err(error) => return Err(error),
            }
        }
        let mut manifests = Vec::with_capacity(files.len());
        for &(id, revision) in files {
            manifests.push(self.manifest(id, revision).await);
        }
        Ok(manifests)
    }

    fn batches_supported(&self) -> bool {
        !self.inner.no_batches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn no_batches(&self) {
        tracing::info!("the server has no batch routes (an older version): going file by file");
        self.inner.no_batches.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The blocks of a revision (the current one when `None`) with download URLs.
    pub async fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Result<Manifest> {
        let path = format!("/nodes/{id}/manifest");
        let query: Vec<(&str, RevisionId)> = revision.map(|rev| ("revision", rev)).into_iter().collect();
        decode(
            &self
                .call(&path, || self.request(Method::GET, &path).query(&query))
                .await?,
        )
    }

    /// Changes after `since`; when there are none yet, the server holds the
    /// answer up to `wait` (at most 60 s) for one to arrive.
    pub async fn changes(&self, since: i64, wait: Duration) -> Result<ChangesPage> {
        let query = [
            ("since", since),
            ("wait", i64::try_from(wait.as_secs()).unwrap_or(i64::MAX)),
        ];
        let build = || {
            self.request(Method::GET, "/changes")
                .query(&query)
                .timeout(wait + POLL_MARGIN)
        };
        decode(&self.call("/changes", build).await?)
    }

    /// Step 2 of an upload. Presigned URLs carry their own authorization, so
    /// no token goes with the bytes (they may go to another host).
    pub async fn put_block(&self, block: &PresignedBlock, bytes: Vec<u8>) -> Result<()> {
        let (url, what) = (
            block_url(&self.inner.server, &block.url),
            format!("put block {}", block.hash),
        );
        self.inner.throttle.wait(Direction::Up, bytes.len() as u64).await;
        retrying(&what, || {
            let mut request = self
                .inner
                .http
                .put(&url)
                .timeout(BLOCK_TIMEOUT)
                .header(header::CONTENT_TYPE, "application/octet-stream");
            // Signed by the server (S3's checksum header): sent as given.
            for (name, value) in &block.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            exchange(request.body(bytes.clone()), &what)
        })
        .await
        .map(drop)
    }

    /// The raw bytes of a block; checking them against the hash is the caller's job.
    pub async fn get_block(&self, block: &PresignedBlock) -> Result<Vec<u8>> {
        let (url, what) = (
            block_url(&self.inner.server, &block.url),
            format!("get block {}", block.hash),
        );
        self.inner.throttle.wait(Direction::Down, block.size).await;
        retrying(&what, || {
            exchange(self.inner.http.get(&url).timeout(BLOCK_TIMEOUT), &what)
        })
        .await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.inner
            .http
            .request(method, api_url(&self.inner.server, path))
            .timeout(API_TIMEOUT)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        decode(&self.call(path, || self.request(Method::GET, path)).await?)
    }

    async fn send<T: DeserializeOwned>(&self, method: Method, path: &str, body: &impl Serialize) -> Result<T> {
        decode(
            &self
                .call(path, || self.request(method.clone(), path).json(body))
                .await?,
        )
    }

    /// An authenticated call with retries. `build` makes a fresh request for
    /// every attempt, since a sent request cannot be sent again.
    async fn call(&self, what: &str, build: impl Fn() -> RequestBuilder) -> Result<Vec<u8>> {
        let build = &build;
        retrying(what, || async move {
            let token = self.access_token().await?;
            match exchange(build().bearer_auth(&token), what).await {
                Err(RemoteError::Unauthorized { .. }) => {
                    self.refresh(&token).await?;
                    let token = self.access_token().await?;
                    exchange(build().bearer_auth(&token), what).await
                }
                answer => answer,
            }
        })
        .await
    }

    async fn access_token(&self) -> Result<String> {
        let auth = self.inner.auth.lock().await;
        match &auth.ended {
            Some(message) => Err(RemoteError::Unauthorized {
                message: message.clone(),
            }),
            None => Ok(auth.session.access_token.clone()),
        }
    }

    /// Replaces the tokens after `stale` was refused. The lock is held across
    /// the request, so concurrent callers wait for this one refresh and then
    /// use its result instead of spending the refresh token a second time.
    /// Not retried here: the caller's retry loop replays the whole call.
    async fn refresh(&self, stale: &str) -> Result<()> {
        let mut auth = self.inner.auth.lock().await;
        if let Some(message) = &auth.ended {
            return Err(RemoteError::Unauthorized {
                message: message.clone(),
            });
        }
        if auth.session.access_token != stale {
            return Ok(());
        }
        tracing::debug!("refreshing the access token");
        let body = RefreshRequest {
            refresh_token: auth.session.refresh_token.clone(),
        };
        let request = self
            .inner
            .http
            .post(api_url(&self.inner.server, "/auth/refresh"))
            .timeout(API_TIMEOUT);
        let pair: TokenPair = match exchange(request.json(&body), "/auth/refresh").await {
            Ok(answer) => decode(&answer)?,
            Err(RemoteError::Unauthorized { message }) => {
                tracing::warn!(%message, "the server ended the session");
                auth.ended = Some(message.clone());
                return Err(RemoteError::Unauthorized { message });
            }
            Err(error) => return Err(error),
        };
        auth.session = Session::new(auth.session.server.clone(), pair);
        (self.inner.on_refresh)(&auth.session);
        Ok(())
    }
}

fn client() -> Result<Client> {
    Client::builder()
        .user_agent(concat!("drive-sync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(16)
        .tcp_keepalive(Duration::from_secs(60))
        .build()
        .map_err(RemoteError::Network)
}

fn api_url(server: &str, path: &str) -> String {
    format!("{}{API_PREFIX}{path}", server.trim_end_matches('/'))
}

/// Presigned URLs are absolute (the server's public URL); a relative one is
/// resolved against the server rather than refused.
fn block_url(server: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{}/{}", server.trim_end_matches('/'), url.trim_start_matches('/'))
    }
}

async fn sign_in(server: &str, path: &str, body: &impl Serialize) -> Result<Session> {
    let server = server.trim_end_matches('/').to_owned();
    let (http, url) = (client()?, api_url(&server, path));
    let answer = retrying(path, || exchange(http.post(&url).timeout(API_TIMEOUT).json(body), path)).await?;
    Ok(Session::new(server, decode(&answer)?))
}

/// Sends one request and reads the whole answer, so that a connection cut
/// mid-body is retried like any other network failure.
async fn exchange(request: RequestBuilder, what: &str) -> Result<Vec<u8>> {
    let started = Instant::now();
    // Without the URL: a presigned one is a credential and must not reach logs.
    let network = |error: reqwest::Error| RemoteError::Network(error.without_url());
    let response = request.send().await.map_err(network)?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    // Never more than a block or an API answer can honestly be.
    if response.content_length().is_some_and(|len| len > MAX_BODY) {
        return Err(RemoteError::TooLarge(MAX_BODY));
    }
    // Sized once for what is announced, rather than grown and copied.
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    let mut response = response;
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if body.len() + chunk.len() > MAX_BODY as usize {
            return Err(RemoteError::TooLarge(MAX_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    tracing::debug!(what, status = status.as_u16(), bytes = body.len(), elapsed = ?started.elapsed(), "request");
    if status.is_success() {
        Ok(body)
    } else {
        Err(RemoteError::from_response(status, retry_after, &body))
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(RemoteError::Decode)
}

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(MAX_RETRIES)
        .with_jitter()
}

/// Runs `attempt` until it succeeds, fails for good, or the retries run out.
/// A 429's `Retry-After` lengthens the pause, never shortens it.
async fn retrying<T, Fut>(what: &str, attempt: impl FnMut() -> Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    attempt
        .retry(backoff())
        .when(RemoteError::is_transient)
        .adjust(|error, delay| match error {
            RemoteError::RateLimited { retry_after } if *retry_after > MAX_RETRY_AFTER => None,
            RemoteError::RateLimited { retry_after } => delay.map(|delay| delay.max(*retry_after)),
            _ => delay,
        })
        .notify(|error, delay| tracing::warn!(what, %error, retry_in = ?delay, "request failed; retrying"))
        .await
}

mod error;
#[cfg(test)]
mod tests;

pub use error::RemoteError;
use error::{answers, retry_after};
