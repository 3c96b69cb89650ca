//! One error type for every handler, answered in one JSON shape with a stable
//! machine code. Internal failures are logged with the request's span and never
//! leaked to the caller.

use axum::{
    extract::{
        rejection::{JsonRejection, PathRejection, QueryRejection},
        FromRequest, FromRequestParts,
    },
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use drive_wire::{names::InvalidName, BlockHash, ErrorBody, ErrorDetail, Node};

use crate::storage::health::{io_out_of_space, sqlx_out_of_space, sqlx_unreachable, Dependency};
use crate::storage::StorageError;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidName(#[from] InvalidName),
    #[error("{0}")]
    InvalidMove(&'static str),
    #[error("{0}")]
    InvalidBlocks(String),
    #[error("the uploaded bytes do not match the block's SHA-256")]
    HashMismatch,
    #[error("the uploaded bytes do not match the size the URL was signed for")]
    SizeMismatch,
    #[error("{0}")]
    InvalidEmail(&'static str),
    #[error("a password has at least 8 characters")]
    WeakPassword,
    #[error("this is not a folder")]
    NotAFolder,
    #[error("this is not a file")]
    NotAFile,
    #[error("some blocks are not stored yet: upload them first")]
    MissingBlocks(Vec<BlockHash>),
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("sign in again: {0}")]
    Unauthorized(&'static str),
    #[error("the refresh token is invalid, expired or already used: sign in again")]
    InvalidToken,
    #[error("the URL's signature is not valid")]
    InvalidSignature,
    #[error("the URL has expired; ask for a new one")]
    UrlExpired,
    #[error("no such item")]
    NotFound,
    #[error("no account has this email")]
    UnknownUser,
    #[error("this is in a folder shared with you as a viewer: it cannot be changed")]
    ReadOnly,
    #[error("only the owner can do this")]
    OwnerOnly,
    #[error("items cannot be moved between a shared folder and a folder of another owner")]
    CrossOwnerMove,
    #[error("this user already has access to this item or to something inside it through another share")]
    AlreadyShared,
    #[error("registration is closed on this server: ask its operator for an account")]
    RegistrationClosed,
    #[error("this invite is not valid: it is wrong, already used or expired")]
    InvalidInvite,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("an item with this name already exists in that folder")]
    NameTaken,
    #[error("the file changed on the server since the revision this is based on")]
    StaleRevision(Option<Box<Node>>),
    #[error("this would exceed the storage quota ({used} of {quota} bytes used, {needed} more needed)")]
    QuotaExceeded { used: u64, quota: u64, needed: u64 },
    #[error("the requested range is not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("this link needs its password")]
    PasswordRequired,
    #[error("this link has expired")]
    LinkExpired,
    #[error("this link was revoked")]
    LinkRevoked,
    #[error("this link has reached its download limit")]
    LinkExhausted,
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the X-CSRF-Token header is missing or does not match the drive_csrf cookie: reload the page")]
    Csrf,
    #[error("this download URL has expired; ask for a new one")]
    DownloadExpired,
    #[error("the upload is larger than the limit of {limit} bytes ({} MiB)", *limit as f64 / 1048576.0)]
    PayloadTooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedImage(String),
    #[error("{0}")]
    InvalidImage(String),
    #[error("{0}")]
    ImageTooLarge(String),
    #[error("the service is not ready: {0}")]
    Unavailable(String),
    /// A write failed for lack of space: nothing of it was kept.
    #[error("the server has no space left for {0}: nothing was stored; try again later")]
    InsufficientStorage(Dependency),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            BadRequest(_) | InvalidName(_) | InvalidMove(_) | InvalidBlocks(_) | HashMismatch | SizeMismatch
            | InvalidEmail(_) | WeakPassword | NotAFolder | NotAFile | MissingBlocks(_) | CrossOwnerMove => {
                StatusCode::BAD_REQUEST
            }
            InvalidCredentials | Unauthorized(_) | InvalidToken | PasswordRequired => StatusCode::UNAUTHORIZED,
            LinkExpired | LinkRevoked | LinkExhausted | DownloadExpired => StatusCode::GONE,
            WrongPassword | Csrf | InvalidSignature | UrlExpired | ReadOnly | OwnerOnly | RegistrationClosed
            | InvalidInvite | AccountDisabled => StatusCode::FORBIDDEN,
            NotFound | UnknownUser => StatusCode::NOT_FOUND,
            EmailTaken | NameTaken | AlreadyShared | StaleRevision(_) => StatusCode::CONFLICT,
            QuotaExceeded { .. } | PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedImage(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            InvalidImage(_) | ImageTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code clients match on.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            BadRequest(_) => "bad_request",
            InvalidName(_) => "invalid_name",
            InvalidMove(_) => "invalid_move",
            InvalidBlocks(_) => "invalid_blocks",
            HashMismatch => "hash_mismatch",
            SizeMismatch => "size_mismatch",
            InvalidEmail(_) => "invalid_email",
            WeakPassword => "weak_password",
            NotAFolder => "not_a_folder",
            NotAFile => "not_a_file",
            MissingBlocks(_) => "missing_blocks",
            InvalidCredentials => "invalid_credentials",
            Unauthorized(_) => "unauthorized",
            InvalidToken => "invalid_token",
            InvalidSignature => "invalid_signature",
            UrlExpired => "url_expired",
            NotFound => "not_found",
            UnknownUser => "unknown_user",
            ReadOnly => "read_only",
            OwnerOnly => "owner_only",
            CrossOwnerMove => "cross_owner_move",
            AlreadyShared => "already_shared",
            RegistrationClosed => "registration_closed",
            InvalidInvite => "invalid_invite",
            AccountDisabled => "account_disabled",
            EmailTaken => "email_taken",
            NameTaken => "name_taken",
            StaleRevision(_) => "stale_revision",
            QuotaExceeded { .. } => "quota_exceeded",
            RangeNotSatisfiable { .. } => "range_not_satisfiable",
            RateLimited { .. } => "rate_limited",
            PasswordRequired => "password_required",
            LinkExpired => "link_expired",
            LinkRevoked => "link_revoked",
            LinkExhausted => "link_exhausted",
            WrongPassword => "wrong_password",
            Csrf => "csrf",
            DownloadExpired => "url_expired",
            PayloadTooLarge { .. } => "payload_too_large",
            UnsupportedImage(_) => "unsupported_image",
            InvalidImage(_) => "invalid_image",
            ImageTooLarge(_) => "image_too_large",
            Unavailable(_) => "unavailable",
            InsufficientStorage(_) => "insufficient_storage",
            Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            // The only unique index a request can hit is a live name in a folder;
            // emails are checked by their own query.
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::NameTaken,
            _ if sqlx_out_of_space(&err) => {
                tracing::error!(error = %err, "a metadata write failed for lack of space");
                Self::InsufficientStorage(Dependency::Metadata)
            }
            _ if sqlx_unreachable(&err) => {
                tracing::error!(error = %err, "the metadata database cannot be reached");
                Self::Unavailable(format!("metadata: the database cannot be reached ({err})"))
            }
            _ => Self::Internal(err.into()),
        }
    }
}

impl ApiError {
    /// The error as the body of an answer says it (also one file's outcome
    /// in a batch).
    pub fn detail(&self) -> ErrorDetail {
        let mut detail = ErrorDetail {
            code: self.code().to_owned(),
            message: self.to_string(),
            // Filled in by the request-id middleware, which knows the id.
            request_id: None,
            current: None,
            missing: Vec::new(),
        };
        match self {
            ApiError::StaleRevision(current) => detail.current.clone_from(current),
            ApiError::MissingBlocks(missing) => detail.missing.clone_from(missing),
            _ => {}
        }
        detail
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = ?err, "request failed");
        }
        let detail = self.detail();
        let mut extra_headers = Vec::new();
        let mut extra_extensions = None;
        match self {
            // Lets `ops::record_storage_failures` tell readiness.
            ApiError::InsufficientStorage(dependency) => {
                extra_extensions = Some(dependency);
            }
            ApiError::RateLimited { retry_after_secs } => {
                extra_headers.push((header::RETRY_AFTER, HeaderValue::from(retry_after_secs)));
            }
            ApiError::RangeNotSatisfiable { size } => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    extra_headers.push((header::CONTENT_RANGE, value));
                }
            }
            _ => {}
        }
        let body = ErrorBody { error: detail };
        let mut response = (status, axum::Json(body.clone())).into_response();
        response.headers_mut().extend(extra_headers);
        // Lets the request-id middleware re-render the body with the id in it.
        response.extensions_mut().insert(body);
        if let Some(dependency) = extra_extensions {
            response.extensions_mut().insert(dependency);
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

/// `axum::Json` that answers malformed bodies in our error shape, takes only
/// an object (every request body is one), and takes
/// a number with no fraction written as a float (`3.0`) where an integer is
/// expected: JSON does not tell the two apart, and neither does JSON Schema,
/// whose `integer` is "a number with a zero fractional part".
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::BadRequest(
                "Expected request with `Content-Type: application/json`".to_owned(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        // Every request body is an object; serde would also take a struct
        // from an array of its fields in order (`[null, null]`).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::BadRequest("the body must be a JSON object".to_owned()));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                // Only a failed parse pays for the second one.
                whole_numbers_as_integers(&bytes)
                    .and_then(|rewritten| axum::Json::<T>::from_bytes(&rewritten).ok())
                    .map(|axum::Json(value)| Self(value))
                    .ok_or_else(|| rejection.into())
            }
        }
    }
}

/// `application/json` or `application/*+json`, parameters aside.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The JSON text with every number that is an integer written with a
/// fraction or an exponent (`3.0`, `30e-1`, `1.5e3`) spelled as that integer,
/// decided on the digits (parsing to `f64` first would round); `None` when
/// there is none, or when the text is not JSON enough to tell.
fn whole_numbers_as_integers(json: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len());
    let mut changed = false;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                // A string, copied as it is, escapes included.
                let start = i;
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(json.len());
                out.extend_from_slice(&json[start..i]);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < json.len() && matches!(json[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                let token = std::str::from_utf8(&json[start..i]).ok()?;
                match integer_spelling(token) {
                    Some(integer) => {
                        out.extend_from_slice(integer.as_bytes());
                        changed = true;
                    }
                    None => out.extend_from_slice(token.as_bytes()),
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// `3.0` -> `3`, `-1.20e1` -> `-12`; `None` for a number that is already an
/// integer, has a fraction, or has more than 20 digits.
fn integer_spelling(token: &str) -> Option<String> {
    let (negative, unsigned) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (fraction.is_empty() && exponent == 0 && !unsigned.contains(['e', 'E'])) || whole.is_empty() {
        return None;
    }
    if !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = format!("{whole}{fraction}");
    let shift = exponent.checked_sub(i32::try_from(fraction.len()).ok()?)?;
    if shift >= 0 {
        if digits.len() + shift as usize > 40 {
            return None;
        }
        digits.extend(std::iter::repeat_n('0', shift as usize));
    } else {
        let cut = digits.len().checked_sub(shift.unsigned_abs() as usize)?;
        if !digits[cut..].bytes().all(|b| b == b'0') {
            return None;
        }
        digits.truncate(cut);
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > 20 {
        return None;
    }
    Some(match (digits.is_empty(), negative) {
        (true, _) => "0".to_owned(),
        (false, true) => format!("-{digits}"),
        (false, false) => digits.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::{integer_spelling, whole_numbers_as_integers};

    #[test]
    fn whole_numbers_are_spelled_as_integers() {
        for (token, integer) in [
            ("3.0", Some("3")),
            ("3956636448394526.0", Some("3956636448394526")),
            ("-27.000", Some("-27")),
            ("1e+16", Some("10000000000000000")),
            ("1.5e3", Some("1500")),
            ("1200e-2", Some("12")),
            ("-0.0", Some("0")),
            ("0e0", Some("0")),
            ("3", None),
            ("3.5", None),
            ("1e-3", None),
            ("1e400", None),
            ("-", None),
        ] {
            assert_eq!(integer_spelling(token).as_deref(), integer, "{token}");
        }
        let rewritten = whole_numbers_as_integers(br#"{"a": 1.0, "b": "1.0 \" 2.0", "c": [2e1, 2.5]}"#);
        assert_eq!(
            rewritten.as_deref(),
            Some(br#"{"a": 1, "b": "1.0 \" 2.0", "c": [20, 2.5]}"#.as_slice())
        );
        assert_eq!(whole_numbers_as_integers(br#"{"a": 1, "b": [2.5]}"#), None);
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` that answers bad parameters in our error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` that answers bad segments in our error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::HashMismatch => ApiError::HashMismatch,
            StorageError::SizeMismatch => ApiError::SizeMismatch,
            StorageError::NotFound(_) => ApiError::NotFound,
            StorageError::Io { ref source, .. } if io_out_of_space(source) => {
                tracing::error!(error = ?err, "a blob write failed for lack of space");
                ApiError::InsufficientStorage(Dependency::Blobs)
            }
            // The object store cannot be reached or refuses us: a clear 503 the
            // client retries, not an internal error.
            err @ StorageError::S3 { .. } => {
                tracing::error!(error = ?err, "the object store failed");
                ApiError::Unavailable(format!("blobs: the object store failed ({err})"))
            }
            err @ StorageError::Io { .. } => ApiError::internal(err),
        }
    }
}
