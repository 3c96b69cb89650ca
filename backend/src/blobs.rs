//! The presigned-URL endpoint of the local blob store (and of the small
//! blocks kept in the database). With S3 the store serves these URLs itself
//! and this router is not mounted.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use drive_wire::BlockHash;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, Path, Query},
    state::AppState,
    storage::{
        inline,
        presign::{Method, SignatureError, UploadGrant},
        BlobStore, LocalBlobStore,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_blob, get_blob))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PutQuery {
    size: u64,
    /// The user the URL was handed to, and their reservation's token: the
    /// upload this PUT proves possession for (see `uploads.rs`).
    user: i64,
    upload: String,
    expires: i64,
    sig: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GetQuery {
    expires: i64,
    sig: String,
}

impl From<SignatureError> for ApiError {
    fn from(err: SignatureError) -> Self {
        match err {
            SignatureError::Invalid => ApiError::InvalidSignature,
            SignatureError::Expired => ApiError::UrlExpired,
        }
    }
}

fn parse_hash(raw: &str) -> ApiResult<BlockHash> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest("a block is named by its SHA-256 in hex".into()))
}

pub(crate) fn local_store(state: &AppState) -> ApiResult<&Arc<LocalBlobStore>> {
    state.local_blobs.as_ref().ok_or(ApiError::NotFound)
}

/// Upload one block's bytes to a presigned URL. The bytes are verified (size
/// and SHA-256) whether or not the store holds the block already, and the
/// answer is the same either way (201), so that nobody learns from it that
/// someone else stored the same bytes; the upload's proof of possession is
/// recorded for the user the URL was handed to (see `uploads.rs`).
#[utoipa::path(put, path = "/blobs/{hash}", tag = "blobs", params(("hash" = String, Path, description = "SHA-256 of the bytes, hex"), PutQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored (or stored already: the same answer)"), (status = 400, body = drive_wire::ErrorBody), (status = 403, body = drive_wire::ErrorBody),
        (status = 507, description = "No space left: nothing was stored", body = drive_wire::ErrorBody)))]
async fn put_blob(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(query): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let hash = parse_hash(&hash)?;
    let store = local_store(&state)?;
    let now = chrono::Utc::now().timestamp();
    let grant = UploadGrant {
        user_id: query.user,
        token: query.upload,
    };
    store
        .signer()
        .verify_put(hash, query.size, &grant, query.expires, &query.sig, now)?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len != query.size) {
        return Err(ApiError::SizeMismatch);
    }
    let created = store.put(hash, query.size, Box::pin(body.into_data_stream())).await?;
    state.proofs.record(grant, hash, query.size);
    tracing::debug!(%hash, size = query.size, created, "block stored");
    Ok(StatusCode::CREATED)
}

/// Download one block's bytes from a presigned URL.
#[utoipa::path(get, path = "/blobs/{hash}", tag = "blobs", params(("hash" = String, Path, description = "SHA-256 of the bytes, hex"), GetQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 403, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn get_blob(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(query): Query<GetQuery>,
) -> ApiResult<Response> {
    let hash = parse_hash(&hash)?;
    let store = local_store(&state)?;
    let now = chrono::Utc::now().timestamp();
    store
        .signer()
        .verify(Method::Get, hash, None, query.expires, &query.sig, now)?;
    // A small block may be kept in the database.
    let (size, body) = match inline::read(state.db.reader(), hash).await? {
        Some(bytes) => (bytes.len() as u64, Body::from(bytes)),
        None => {
            let size = store.stored_size(hash).await?.ok_or(ApiError::NotFound)?;
            let body = match store.read_direct(hash, size).await? {
                Some(bytes) => Body::from(bytes),
                None => Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
                    store.read_range(hash, 0, size).await?,
                    crate::storage::STREAM_CHUNK,
                )),
            };
            (size, body)
        }
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable".to_owned()),
        ],
        body,
    )
        .into_response();
    // A user's bytes, never a page of ours.
    crate::download::user_content_headers(response.headers_mut());
    Ok(response)
}
