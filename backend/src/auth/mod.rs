//! Accounts, sign-in and device sessions.

pub mod account;
pub mod client_ip;
pub mod extractor;
pub mod password;
pub mod rate_limit;
pub mod tokens;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use drive_wire::{
    LoginRequest, RefreshRequest, RegisterAnswer, RegisterRequest, RegisterStatus, Session, SessionId, TokenPair, User,
    UserId,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    config::Registration,
    error::{ApiError, ApiResult, Json, Path},
    state::AppState,
    storage::metadata::{now_ms, to_datetime, Tx},
};
pub use extractor::{AuthUser, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(me))
        .routes(routes!(account::change_password))
}

pub(crate) fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(email)
    } else {
        Err(ApiError::InvalidEmail("that is not an email address"))
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    root_id: i64,
    quota_bytes: i64,
    used_bytes: i64,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            email: row.email,
            root_id: row.root_id,
            quota_bytes: row.quota_bytes.max(0) as u64,
            used_bytes: row.used_bytes.max(0) as u64,
            created_at: to_datetime(row.created_at),
        }
    }
}

const USER_COLUMNS: &str = "id, email, root_id, quota_bytes, used_bytes, created_at";

pub async fn load_user<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(db: E, id: UserId) -> ApiResult<User> {
    let row: UserRow = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(db)
        .await?;
    Ok(row.into())
}

/// Opens a session for `user` and issues its first token pair.
pub(crate) async fn open_session(
    state: &AppState,
    tx: &mut Tx,
    user: User,
    device_name: Option<String>,
) -> ApiResult<TokenPair> {
    let (refresh_token, refresh_hash) = tokens::new_refresh_token();
    let now = now_ms();
    let expires = now + state.config.refresh_token_ttl().as_millis() as i64;
    let session_id: SessionId = sqlx::query_scalar(
        "INSERT INTO sessions (user_id, device_name, refresh_hash, created_at, last_used_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
    )
    .bind(user.id)
    .bind(device_name)
    .bind(refresh_hash)
    .bind(now)
    .bind(expires)
    .fetch_one(&mut **tx)
    .await?;
    token_pair(state, user, session_id, refresh_token)
}

fn token_pair(state: &AppState, user: User, session_id: SessionId, refresh_token: String) -> ApiResult<TokenPair> {
    let access_token = state.tokens.issue(user.id, session_id).map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        expires_in: state.tokens.access_ttl.as_secs(),
        refresh_token,
        session_id,
        user,
    })
}

/// The error of the handlers that hash passwords: an [`ApiError`], with
/// `Retry-After` on the 503 of a request that waited too long for its turn
/// to hash ([`password::is_busy`]).
#[derive(Debug)]
pub struct AuthError(pub ApiError);

impl<E: Into<ApiError>> From<E> for AuthError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        with_retry_after(self.0, IntoResponse::into_response)
    }
}

/// `error` rendered by `render` (JSON, a page), with `Retry-After` when it is
/// a refusal that passes: a rate limit (429) or a password hashing queue
/// that was too long (503).
pub fn with_retry_after(error: ApiError, render: impl FnOnce(ApiError) -> Response) -> Response {
    let retry_after = match &error {
        ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
        busy if password::is_busy(busy) => Some(password::BUSY_RETRY_AFTER_SECS),
        _ => None,
    };
    let mut response = render(error);
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The body of `register`: the wire's request, plus the invite token that
/// `--registration invite` requires (ignored otherwise).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    #[serde(flatten)]
    pub request: RegisterRequest,
    /// A token from `drive-server invite create`; single-use.
    #[serde(default)]
    pub invite: Option<String>,
}

/// Creates an account with its (empty) root folder inside `tx`; `EmailTaken`
/// when `email` has an account, even one made by a registration racing with
/// this one (nothing is written then). Only the operator's command says so:
/// `register` answers a taken email like a free one.
pub(crate) async fn create_user(
    tx: &mut Tx,
    email: &str,
    password_hash: String,
    quota_bytes: u64,
    now: i64,
) -> ApiResult<UserId> {
    let user_id: Option<UserId> = sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, quota_bytes, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(email)
    .bind(password_hash)
    .bind(i64::try_from(quota_bytes).unwrap_or(i64::MAX))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let user_id = user_id.ok_or(ApiError::EmailTaken)?;
    let root_id: i64 = sqlx::query_scalar(
        "INSERT INTO nodes (owner_id, parent_id, name, kind, modified, created_at) \
         VALUES ($1, NULL, '', 'folder', $2, $2) RETURNING id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE users SET root_id = $1 WHERE id = $2")
        .bind(root_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(user_id)
}

/// Create an account; sign in next. A registration that is not refused
/// answers 202 with the same body whether the email was free (the account is
/// created) or already had an account (nothing changes, that account's
/// password included), after the same password hashing: so an anonymous
/// caller cannot tell which, and no tokens are ever answered here. Signing in
/// with the same email and password (`POST /auth/login`) then succeeds only
/// for the account this request created (or one that had that password).
///
/// Depends on `--registration`: 403 `registration_closed` when closed; with
/// `invite`, the body's `invite` must be a valid, unused, unexpired invite
/// (403 `invalid_invite`), which only the creation of an account spends.
/// Attempts are limited per client address (429 `rate_limited`).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 202, body = RegisterAnswer,
            description = "Created, or the email already had an account (unchanged): the same answer either way; \
                           sign in with the same email and password next",
            example = json!({"status": "created_or_exists", "message": REGISTER_MESSAGE})),
        (status = 400, body = drive_wire::ErrorBody),
        (status = 403, body = drive_wire::ErrorBody),
        (status = 429, body = drive_wire::ErrorBody), (status = 503, body = drive_wire::ErrorBody)))]
async fn register(
    axum::extract::State(state): axum::extract::State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterBody>,
) -> Result<(StatusCode, Json<RegisterAnswer>), AuthError> {
    create_account(&state, ip, body).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RegisterAnswer {
            status: RegisterStatus::CreatedOrExists,
            message: REGISTER_MESSAGE.to_owned(),
        }),
    ))
}

/// The message of every registration's 202: the same for a free and a taken email.
pub const REGISTER_MESSAGE: &str = "If this email had no account, the account now exists: sign in with this email \
                                    and password. If it had one already, nothing changed: sign in with its password.";

/// The work of `register`: the account, or nothing when the email is taken
/// (`Ok` either way). Both pass through the same steps (rate limit, checks,
/// password hash, invite, insert); a taken email only skips the writes that
/// follow the refused insert, and its transaction (with the invite it would
/// have spent) is rolled back.
async fn create_account(state: &AppState, ip: std::net::IpAddr, body: RegisterBody) -> ApiResult<()> {
    if state.config.registration == Registration::Closed {
        return Err(ApiError::RegistrationClosed);
    }
    // Before any work (the password hash is the expensive part), whatever
    // the outcome: every attempt counts.
    state.register_limiter.check(ip).await?;
    let RegisterBody { request: req, invite } = body;
    let email = normalize_email(&req.email)?;
    if req.password.chars().count() < password::MIN_PASSWORD_CHARS {
        return Err(ApiError::WeakPassword);
    }
    let invite_hash = match state.config.registration {
        Registration::Invite => {
            let token = invite
                .as_deref()
                .map(str::trim)
                .filter(|token| !token.is_empty())
                .ok_or(ApiError::InvalidInvite)?;
            Some(tokens::hash_refresh_token(token))
        }
        Registration::Open | Registration::Closed => None,
    };
    // Hashed whether or not the email is taken: the same time either way.
    let password_hash = password::hash(req.password).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if let Some(hash) = &invite_hash {
        // Spent in the transaction that makes the account: when the email is
        // taken it is rolled back, and of two registrations racing for one
        // invite only one updates the row. Checked before the email, so that
        // an invalid invite is refused whether or not the email is taken.
        let spent = sqlx::query(
            "UPDATE invites SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            tracing::info!(%ip, "registration with an invalid invite");
            return Err(ApiError::InvalidInvite);
        }
    }
    let user_id = match create_user(&mut tx, &email, password_hash, state.config.default_quota, now).await {
        Ok(user_id) => user_id,
        Err(ApiError::EmailTaken) => {
            // Nothing written: the invite, if any, stays unspent.
            tx.rollback().await?;
            tracing::info!(%ip, "registration of an email that has an account; answered like a new one");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    if let Some(hash) = &invite_hash {
        sqlx::query("UPDATE invites SET used_by = $1 WHERE token_hash = $2")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(user_id, invited = invite_hash.is_some(), "account created");
    Ok(())
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = drive_wire::ErrorBody),
        (status = 403, body = drive_wire::ErrorBody), (status = 429, body = drive_wire::ErrorBody),
        (status = 503, body = drive_wire::ErrorBody)))]
async fn login(
    axum::extract::State(state): axum::extract::State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenPair>, AuthError> {
    Ok(Json(sign_in(&state, ip, req).await?))
}

/// The work of `login` (and of the web app's sign-in): the limits, the
/// password check, and a new session.
pub(crate) async fn sign_in(state: &AppState, ip: std::net::IpAddr, req: LoginRequest) -> ApiResult<TokenPair> {
    let email = req.email.trim().to_lowercase();
    state.login_limiter.check(&email, ip).await?;
    let account: Option<(i64, String, Option<i64>)> =
        sqlx::query_as("SELECT id, password_hash, disabled_at FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(state.db.reader())
            .await?;
    let (user_id, stored, disabled) = match account {
        Some((id, hash, disabled)) => (Some(id), Some(hash), disabled.is_some()),
        None => (None, None, false),
    };
    let user_id = match (password::verify(req.password, stored).await?, user_id) {
        (true, Some(id)) => id,
        _ => {
            tracing::info!(%ip, "failed sign-in");
            return Err(ApiError::InvalidCredentials);
        }
    };
    // Told only to whoever knows the password.
    if disabled {
        tracing::info!(user_id, "sign-in to a disabled account refused");
        return Err(ApiError::AccountDisabled);
    }
    let mut tx = state.db.begin().await?;
    let user = load_user(&mut *tx, user_id).await?;
    let pair = open_session(state, &mut tx, user, req.device_name).await?;
    tx.commit().await?;
    tracing::info!(user_id, session_id = pair.session_id, "signed in");
    Ok(pair)
}

/// Trade a refresh token for a new token pair. The old refresh token is spent;
/// presenting it again revokes the session, since it must have been stolen.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = drive_wire::ErrorBody),
        (status = 403, body = drive_wire::ErrorBody)))]
async fn refresh(
    axum::extract::State(state): axum::extract::State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(rotate(&state, &req.refresh_token).await?))
}

/// The work of `refresh` (and of the web app's): spends `refresh_token` for a
/// new pair of the same session, or revokes the session when it was spent already.
pub(crate) async fn rotate(state: &AppState, refresh_token: &str) -> ApiResult<TokenPair> {
    let presented = tokens::hash_refresh_token(refresh_token);
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let session: Option<(SessionId, UserId)> = sqlx::query_as(
        "SELECT s.id, s.user_id FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL",
    )
    .bind(&presented)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session_id, user_id)) = session else {
        // Disabling an account revokes its sessions: say why, to whoever
        // holds one of its current refresh tokens.
        let disabled: Option<i64> = sqlx::query_scalar(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.refresh_hash = $1 AND u.disabled_at IS NOT NULL",
        )
        .bind(&presented)
        .fetch_optional(&mut *tx)
        .await?;
        if disabled.is_some() {
            return Err(ApiError::AccountDisabled);
        }
        let reused = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND id = \
             (SELECT session_id FROM spent_refresh_tokens WHERE hash = $2)",
        )
        .bind(now)
        .bind(&presented)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if reused.rows_affected() > 0 {
            tracing::warn!("a spent refresh token was presented again; its session is revoked");
        }
        return Err(ApiError::InvalidToken);
    };
    let (refresh_token, refresh_hash) = tokens::new_refresh_token();
    let expires = now + state.config.refresh_token_ttl().as_millis() as i64;
    sqlx::query("INSERT INTO spent_refresh_tokens (hash, session_id) VALUES ($1, $2)")
        .bind(&presented)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET refresh_hash = $1, last_used_at = $2, expires_at = $3 WHERE id = $4")
        .bind(refresh_hash)
        .bind(now)
        .bind(expires)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    let user = load_user(&mut *tx, user_id).await?;
    tx.commit().await?;
    token_pair(state, user, session_id, refresh_token)
}

/// Sign out: revoke the session this request was made with.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204)))]
async fn logout(axum::extract::State(state): axum::extract::State<AppState>, auth: AuthUser) -> ApiResult<StatusCode> {
    revoke(&state, auth.user_id, auth.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(state: &AppState, user_id: UserId, session_id: SessionId) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let revoked =
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(session_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    if revoked.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    tracing::info!(session_id, "session revoked");
    Ok(())
}

/// The signed-in devices of this account.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [Session])))]
async fn list_sessions(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<Session>>> {
    let rows: Vec<(SessionId, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT id, device_name, created_at, last_used_at FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id",
    )
    .bind(auth.user_id)
    .bind(now_ms())
    .fetch_all(state.db.reader())
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, device_name, created_at, last_used_at)| Session {
                id,
                device_name,
                created_at: to_datetime(created_at),
                last_used_at: to_datetime(last_used_at),
                current: id == auth.session_id,
            })
            .collect(),
    ))
}

/// Sign a device out.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")),
    responses((status = 204), (status = 404, body = drive_wire::ErrorBody)))]
async fn revoke_session(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: AuthUser,
    Path(id): Path<SessionId>,
) -> ApiResult<StatusCode> {
    revoke(&state, auth.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account, with its quota.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User)))]
async fn me(axum::extract::State(state): axum::extract::State<AppState>, auth: AuthUser) -> ApiResult<Json<User>> {
    Ok(Json(load_user(state.db.reader(), auth.user_id).await?))
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@example",
            "a b@example.com",
            "ann@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
