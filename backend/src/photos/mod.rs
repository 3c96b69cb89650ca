//! Profile photos: one per account, uploaded raw (`PUT /api/v1/account/photo`,
//! at most 5 MiB), kept only if its bytes are a JPEG, PNG, GIF or WebP image
//! that decodes completely, then made into a 400x400 version by a background
//! job ([`jobs`]) and served only as that, through short-lived presigned URLs.
//!
//! The original and the 400x400 version are objects of the blob store's photo
//! namespace under random keys owned by the photo's row; a replaced or deleted
//! photo hands its objects to the garbage list in the same transaction, and
//! the worker deletes them. An upload is listed as garbage before its object
//! is written and taken off the list when its row is installed, so that no
//! failure or crash leaves an object behind for good.
//!
//! There is no route to another user's photo: nothing in this product shows
//! one user to another (links are anonymous), and an id-based route would let
//! any account walk through everyone's photos.

pub mod imaging;
pub mod jobs;

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use drive_wire::{PhotoStatus, ProfilePhoto, UserId};
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use imaging::{PhotoError, PhotoFormat, MAX_PHOTO_BYTES, PHOTO_SIZE};
pub use jobs::{spawn_worker, PhotoJobs};

use crate::{
    auth::AuthUser,
    blobs::local_store,
    error::{ApiError, ApiResult, Json, Path, Query},
    state::AppState,
    storage::{metadata::now_ms, metadata::to_datetime, new_photo_key, presign::Method, PhotoKey},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, status, delete))
        .routes(routes!(serve))
}

/// Bytes of an oversize upload still read (and dropped) after the limit, so
/// that the client is still reading when the 413 comes; past that, the
/// connection is closed.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;
/// How long an upload's object may wait between being written and its row
/// being installed before it is collected as garbage.
const ORPHAN_GRACE_MS: i64 = 60 * 60 * 1000;

const PHOTO_COLUMNS: &str = "original_format, original_width, original_height, original_size, \
                             resized_key, resized_type, state, error, uploaded_at";

#[derive(Debug, sqlx::FromRow)]
struct PhotoRow {
    original_format: String,
    original_width: i64,
    original_height: i64,
    original_size: i64,
    resized_key: String,
    resized_type: Option<String>,
    state: String,
    error: Option<String>,
    uploaded_at: i64,
}

impl PhotoRow {
    async fn to_wire(&self, state: &AppState) -> ApiResult<ProfilePhoto> {
        let status = match self.state.as_str() {
            "ready" => PhotoStatus::Ready,
            "failed" => PhotoStatus::Failed,
            _ => PhotoStatus::Processing,
        };
        let url = match (status, self.resized_key.parse::<PhotoKey>()) {
            (PhotoStatus::Ready, Ok(key)) => {
                let content_type = self.resized_type.as_deref().unwrap_or("application/octet-stream");
                Some(
                    state
                        .blobs
                        .presign_photo_get(key, content_type, state.config.photo_url_ttl())
                        .await?,
                )
            }
            _ => None,
        };
        Ok(ProfilePhoto {
            status,
            expires_at: url.as_ref().map(|u| u.expires_at),
            url: url.map(|u| u.url),
            content_type: self.resized_type.clone().filter(|_| status == PhotoStatus::Ready),
            size: PHOTO_SIZE,
            original_format: self.original_format.clone(),
            original_width: self.original_width.clamp(0, u32::MAX.into()) as u32,
            original_height: self.original_height.clamp(0, u32::MAX.into()) as u32,
            original_bytes: self.original_size.max(0) as u64,
            uploaded_at: to_datetime(self.uploaded_at),
            error: self.error.clone().filter(|_| status == PhotoStatus::Failed),
        })
    }
}

async fn photo_row(state: &AppState, user_id: UserId) -> ApiResult<Option<PhotoRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE user_id = $1"))
            .bind(user_id)
            .fetch_optional(state.db.reader())
            .await?,
    )
}

impl From<PhotoError> for ApiError {
    fn from(err: PhotoError) -> Self {
        match err {
            PhotoError::Unsupported(message) => ApiError::UnsupportedImage(message),
            PhotoError::Invalid(message) => ApiError::InvalidImage(message),
            PhotoError::TooLarge(message) => ApiError::ImageTooLarge(message),
            err @ PhotoError::Encode(_) => ApiError::internal(err),
        }
    }
}

/// The body, refused with 413 as soon as it passes [`MAX_PHOTO_BYTES`]: never
/// more than that is kept in memory.
async fn read_upload(headers: &HeaderMap, body: Body) -> ApiResult<Vec<u8>> {
    let too_large = ApiError::PayloadTooLarge { limit: MAX_PHOTO_BYTES };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > MAX_PHOTO_BYTES + DRAIN_LIMIT) {
        return Err(too_large);
    }
    let mut kept = Vec::with_capacity(announced.unwrap_or(0).min(MAX_PHOTO_BYTES) as usize);
    let mut received: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload was cut off: {e}")))?;
        received += chunk.len() as u64;
        if received > MAX_PHOTO_BYTES + DRAIN_LIMIT {
            break;
        }
        if received <= MAX_PHOTO_BYTES {
            kept.extend_from_slice(&chunk);
        } else if !kept.is_empty() {
            kept = Vec::new();
        }
    }
    if received > MAX_PHOTO_BYTES {
        return Err(too_large);
    }
    Ok(kept)
}

/// Sets the caller's profile photo (replacing the one they had): the raw
/// bytes of a JPEG, PNG, GIF or WebP image of at most 5 MiB, whatever the
/// name or Content-Type. It is decoded completely before it is accepted; the
/// 400x400 version is made in the background (status `processing` until then).
#[utoipa::path(put, path = "/api/v1/account/photo", tag = "photos", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The image file's bytes; its type is decided by its content"),
    responses((status = 202, body = ProfilePhoto, description = "Accepted; being processed"),
        (status = 400, body = drive_wire::ErrorBody), (status = 413, body = drive_wire::ErrorBody, description = "payload_too_large"),
        (status = 415, body = drive_wire::ErrorBody, description = "unsupported_image"),
        (status = 422, body = drive_wire::ErrorBody, description = "invalid_image (truncated, corrupt), image_too_large")))]
async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ProfilePhoto>)> {
    let checked = accept(&state, &headers, body).await;
    let (bytes, inspected) = match checked {
        Ok(ok) => ok,
        Err(err) => {
            tracing::info!(code = err.code(), reason = %err, "profile photo refused");
            metrics::counter!("drive_photo_uploads_total", "result" => err.code()).increment(1);
            return Err(err);
        }
    };
    let size = bytes.len() as u64;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let original_key = new_photo_key();
    let resized_key = new_photo_key();

    // Listed as garbage before it exists, so a crash before the row is
    // installed cannot leave it behind.
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO photo_garbage (key, due_at) VALUES ($1, $2)")
        .bind(original_key.to_string())
        .bind(now_ms() + ORPHAN_GRACE_MS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.blobs.put_photo(original_key, bytes).await?;

    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let claimed = sqlx::query("DELETE FROM photo_garbage WHERE key = $1 AND due_at > $2")
        .bind(original_key.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if claimed != 1 {
        return Err(ApiError::internal(anyhow::anyhow!(
            "the upload's object was collected before its row was installed"
        )));
    }
    let old: Option<(String, String)> =
        sqlx::query_as("DELETE FROM photos WHERE user_id = $1 RETURNING original_key, resized_key")
            .bind(auth.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO photos (user_id, original_key, original_format, original_width, original_height, \
             original_size, original_sha256, resized_key, state, due_at, attempts, uploaded_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, 0, $9, $9)",
    )
    .bind(auth.user_id)
    .bind(original_key.to_string())
    .bind(inspected.format.name())
    .bind(i64::from(inspected.width))
    .bind(i64::from(inspected.height))
    .bind(size as i64)
    .bind(&sha256)
    .bind(resized_key.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some((old_original, old_resized)) = &old {
        discard(&mut tx, [old_original, old_resized], now).await?;
    }
    tx.commit().await?;
    state.photo_jobs.wake();
    tracing::info!(
        format = inspected.format.name(),
        width = inspected.width,
        height = inspected.height,
        size,
        replaced = old.is_some(),
        "profile photo accepted"
    );
    metrics::counter!("drive_photo_uploads_total", "result" => "accepted").increment(1);
    let row = PhotoRow {
        original_format: inspected.format.name().to_owned(),
        original_width: inspected.width.into(),
        original_height: inspected.height.into(),
        original_size: size as i64,
        resized_key: resized_key.to_string(),
        resized_type: None,
        state: "pending".into(),
        error: None,
        uploaded_at: now,
    };
    Ok((StatusCode::ACCEPTED, Json(row.to_wire(&state).await?)))
}

/// Reads the upload and decodes it completely (a few at a time, off the async
/// threads): refuses anything but a whole JPEG, PNG, GIF or WebP image.
async fn accept(state: &AppState, headers: &HeaderMap, body: Body) -> ApiResult<(Vec<u8>, imaging::Inspected)> {
    let bytes = read_upload(headers, body).await?;
    // Cheap, and spares a decode slot for what is not even an image.
    imaging::sniff(&bytes)?;
    let _permit = state.photo_jobs.decoding.acquire().await.map_err(ApiError::internal)?;
    let checked = tokio::task::spawn_blocking(move || imaging::inspect(&bytes).map(|inspected| (bytes, inspected)))
        .await
        .map_err(|e| {
            tracing::warn!(error = ?e, "decoding an uploaded photo panicked");
            ApiError::InvalidImage("the image could not be decoded".into())
        })??;
    Ok(checked)
}

/// Puts photo objects on the garbage list, due now.
async fn discard(tx: &mut crate::storage::metadata::Tx, keys: [&String; 2], now: i64) -> ApiResult<()> {
    for key in keys {
        sqlx::query(
            "INSERT INTO photo_garbage (key, due_at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(key)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The caller's profile photo: `processing` until its 400x400 version is made,
/// then `ready` with a presigned URL of it (valid a few minutes: ask again for
/// a fresh one), or `failed`.
#[utoipa::path(get, path = "/api/v1/account/photo", tag = "photos", security(("bearer" = [])),
    responses((status = 200, body = ProfilePhoto), (status = 404, body = drive_wire::ErrorBody, description = "No photo")))]
async fn status(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<ProfilePhoto>> {
    let row = photo_row(&state, auth.user_id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(row.to_wire(&state).await?))
}

/// Removes the caller's profile photo; its stored objects are deleted in the
/// background, and URLs handed out for it stop working.
#[utoipa::path(delete, path = "/api/v1/account/photo", tag = "photos", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = drive_wire::ErrorBody, description = "No photo")))]
async fn delete(State(state): State<AppState>, auth: AuthUser) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let (original, resized): (String, String) =
        sqlx::query_as("DELETE FROM photos WHERE user_id = $1 RETURNING original_key, resized_key")
            .bind(auth.user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ApiError::NotFound)?;
    discard(&mut tx, [&original, &resized], now_ms()).await?;
    tx.commit().await?;
    state.photo_jobs.wake();
    tracing::info!("profile photo deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PhotoUrlQuery {
    expires: i64,
    sig: String,
}

/// Serves a 400x400 profile photo from a presigned URL (as handed out by
/// `GET /api/v1/account/photo`).
#[utoipa::path(get, path = "/photos/{key}", tag = "photos",
    params(("key" = String, Path, description = "Photo object key, 64 hex digits"), PhotoUrlQuery),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>, description = "image/jpeg or image/png"),
        (status = 403, body = drive_wire::ErrorBody, description = "invalid_signature, url_expired"),
        (status = 404, body = drive_wire::ErrorBody)))]
async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<PhotoUrlQuery>,
) -> ApiResult<Response> {
    let store = local_store(&state)?;
    // A key that does not parse cannot have been signed.
    let key: PhotoKey = key.parse().map_err(|_| ApiError::InvalidSignature)?;
    let now = chrono::Utc::now().timestamp();
    store
        .signer()
        .verify(Method::GetPhoto, key, None, query.expires, &query.sig, now)?;
    let bytes = crate::storage::BlobStore::read_photo(store.as_ref(), key).await?;
    let content_type = match imaging::sniff(&bytes) {
        Ok(PhotoFormat::Png) => "image/png",
        Ok(PhotoFormat::Jpeg) => "image/jpeg",
        _ => "application/octet-stream",
    };
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // An object's bytes never change under its key.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    crate::download::user_content_headers(headers);
    Ok(response)
}
