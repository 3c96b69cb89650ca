//! What can go wrong talking to the server, as the engine acts on it: the
//! server's error answers (its JSON shape, or whatever a proxy sent), a
//! batch's per-file outcomes, and the network.

use std::time::Duration;

use chrono::Utc;
use drive_wire::{BlockHash, ErrorBody, ErrorDetail, Node};
use reqwest::{header, header::HeaderMap, StatusCode};

use super::{Result, MAX_ERROR_TEXT};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The commit's base revision is no longer the file's current one.
    /// `current` is the file as it is now (`None` if it is gone).
    #[error("the file changed on the server since the revision this is based on")]
    StaleRevision { current: Option<Node> },
    #[error("an item with this name already exists in that folder")]
    NameTaken,
    /// Blocks the server lacks at commit time: upload them and commit again.
    #[error("{} block(s) are not stored on the server yet", .0.len())]
    MissingBlocks(Vec<BlockHash>),
    #[error("no such item on the server")]
    NotFound,
    /// 403 `read_only`: the item is in something shared with the user as a
    /// viewer (perhaps only since the plan was made). Never retried: the
    /// next pass sees the new flags in the changes feed and plans around them.
    #[error("this is in a folder shared with you as a viewer: the server refused the change")]
    ReadOnly,
    #[error("{message}")]
    QuotaExceeded { message: String },
    /// The session is over (refresh token expired, revoked or reused): only
    /// signing in again helps.
    #[error("sign in again: {message}")]
    Unauthorized { message: String },
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The server accepted a registration, but signing in with the same
    /// email and password then failed: the server answers a registration of
    /// an email that has an account like a new one, so this is what a taken
    /// email looks like.
    #[error(
        "could not sign in after registering: an account with this email may already exist, with another password; \
         sign in to it with its password instead"
    )]
    EmailMayBeTaken,
    #[error("too many attempts; try again in {} s", .retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// Any other 4xx, with the server's stable code and its explanation.
    #[error("the server refused the request ({status} {code}): {message}")]
    Rejected { status: u16, code: String, message: String },
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },
    // The root cause is in the message because the CLI prints errors without
    // their source chain, and "error sending request" alone helps nobody.
    #[error("cannot reach the server: {}", root_cause(.0))]
    Network(#[source] reqwest::Error),
    #[error("unexpected answer from the server: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("the server's answer is larger than {} MiB; refused", .0 >> 20)]
    TooLarge(u64),
}

impl RemoteError {
    /// Whether the same request may succeed later without anything changing
    /// on our side. The retry loop already tried a few times; callers use this
    /// to decide between "try again next pass" and "report to the user".
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Server { .. } => true,
            // A malformed URL or request will not get better.
            Self::Network(error) => !error.is_builder(),
            _ => false,
        }
    }

    /// Maps an error answer: the server's JSON shape when it is there, or
    /// whatever a proxy in between sent.
    pub(super) fn from_response(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let detail = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => error,
            Err(_) => ErrorDetail {
                code: format!("http_{}", status.as_u16()),
                message: plain_text(status, body),
                request_id: None,
                current: None,
                missing: Vec::new(),
            },
        };
        Self::from_detail(status, retry_after, detail)
    }

    /// Maps one file's outcome in a batch: the status and error the
    /// single-file route would have answered.
    fn from_outcome(status: u16, error: Option<ErrorDetail>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let detail = error.unwrap_or_else(|| ErrorDetail {
            code: format!("http_{}", status.as_u16()),
            message: "the server gave no reason".into(),
            request_id: None,
            current: None,
            missing: Vec::new(),
        });
        Self::from_detail(status, None, detail)
    }

    fn from_detail(status: StatusCode, retry_after: Option<Duration>, detail: ErrorDetail) -> Self {
        let ErrorDetail {
            code,
            message,
            current,
            missing,
            ..
        } = detail;
        match (status, code.as_str()) {
            (_, "stale_revision") => Self::StaleRevision {
                current: current.map(|node| *node),
            },
            (_, "name_taken") => Self::NameTaken,
            (_, "missing_blocks") => Self::MissingBlocks(missing),
            (_, "quota_exceeded") => Self::QuotaExceeded { message },
            (_, "invalid_credentials") => Self::InvalidCredentials,
            (_, "read_only") => Self::ReadOnly,
            (StatusCode::NOT_FOUND, _) => Self::NotFound,
            (StatusCode::UNAUTHORIZED, _) => Self::Unauthorized { message },
            (StatusCode::TOO_MANY_REQUESTS, _) => Self::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            _ if status.is_server_error() => Self::Server {
                status: status.as_u16(),
                message,
            },
            _ => Self::Rejected {
                status: status.as_u16(),
                code,
                message,
            },
        }
    }
}

fn plain_text(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_TEXT)])
        .trim()
        .to_owned();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    }
}

pub(super) fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `Retry-After` is either seconds or an HTTP date.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(header::RETRY_AFTER)?.to_str().ok()?)
}

/// A batch's outcomes as results, one per file of the request: a success
/// with its value, or the error the single-file route would have answered.
pub(super) fn answers<O, T>(
    files: usize,
    outcomes: Vec<O>,
    parts: impl Fn(O) -> (u16, Option<T>, Option<ErrorDetail>),
) -> Result<Vec<Result<T>>> {
    if outcomes.len() != files {
        return Err(RemoteError::Rejected {
            status: 200,
            code: "bad_batch".into(),
            message: format!("the server answered {} outcomes for {files} files", outcomes.len()),
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| match parts(outcome) {
            (status, Some(value), None) if (200..300).contains(&status) => Ok(value),
            (status, _, error) => Err(RemoteError::from_outcome(status, error)),
        })
        .collect())
}
