//! Changing the account's password.

use axum::{extract::State, http::StatusCode};
use drive_wire::ChangePasswordRequest;

use super::{password, AuthError, AuthUser, ClientIp};
use crate::{
    error::{ApiError, Json},
    state::AppState,
    storage::metadata::now_ms,
};

/// Changes the password: the current one must be given (403
/// `wrong_password` otherwise; attempts count against the sign-in limits of
/// the account and the address), the new one follows the rule of
/// registration. Every other session of the account is signed out; the one
/// making the request stays.
#[utoipa::path(post, path = "/api/v1/account/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; every other session is signed out"),
        (status = 400, body = drive_wire::ErrorBody, description = "`weak_password`: fewer than 8 characters"),
        (status = 403, body = drive_wire::ErrorBody, description = "`wrong_password`: the current password is wrong"),
        (status = 429, body = drive_wire::ErrorBody), (status = 503, body = drive_wire::ErrorBody)))]
pub(super) async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    ClientIp(ip): ClientIp,
    Json(req): Json<ChangePasswordRequest>,
) -> Result<StatusCode, AuthError> {
    if req.new_password.chars().count() < password::MIN_PASSWORD_CHARS {
        return Err(ApiError::WeakPassword.into());
    }
    let (email, stored): (String, String) = sqlx::query_as("SELECT email, password_hash FROM users WHERE id = $1")
        .bind(auth.user_id)
        .fetch_one(state.db.reader())
        .await?;
    // A stolen access token must not be a way to guess the password at will.
    state.login_limiter.check(&email, ip).await?;
    if !password::verify(req.current_password, Some(stored.clone())).await? {
        tracing::info!(user_id = auth.user_id, %ip, "password change with a wrong current password");
        return Err(ApiError::WrongPassword.into());
    }
    let new_hash = password::hash(req.new_password).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Compare-and-set: of two changes racing, the second finds the hash changed.
    let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
        .bind(new_hash)
        .bind(auth.user_id)
        .bind(&stored)
        .execute(&mut *tx)
        .await?;
    if changed.rows_affected() != 1 {
        return Err(ApiError::WrongPassword.into());
    }
    let revoked =
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(auth.user_id)
            .bind(auth.session_id)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    tracing::info!(
        user_id = auth.user_id,
        signed_out = revoked.rows_affected(),
        "password changed; other sessions signed out"
    );
    Ok(StatusCode::NO_CONTENT)
}
