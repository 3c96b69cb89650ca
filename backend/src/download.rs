//! Downloads: manifests of presigned block URLs for sync clients
//! ([`manifests`]), and a plain streaming endpoint with HTTP Range support
//! for everything else.
//!
//! Every response that carries a user's bytes goes through
//! [`user_content_headers`]: `X-Content-Type-Options: nosniff` (a browser
//! never guesses HTML or script out of a file declared as something else) and
//! `Content-Security-Policy: sandbox` (should a browser render it as a
//! document anyway, it runs no script and gets an opaque origin, so it can
//! never act in the origin of the app that serves it).

mod manifests;
mod resolve;

use std::{collections::HashSet, ops::Bound};

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use drive_wire::{BlockHash, RevisionId, RevisionQuery, MAX_INLINE_BLOCK};
use futures::{StreamExt, TryStreamExt};
use headers::Range;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Path, Query},
    state::AppState,
    storage::{blobs::BlobReader, inline},
};

pub(crate) use resolve::resolve;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(manifests::manifest))
        .routes(routes!(manifests::manifests))
        .routes(routes!(content))
}

/// The Range header of a request if it asks for bytes. A range in another
/// unit (`items=0-1`), or a header that is not even text, is ignored, as
/// RFC 9110 says: the whole file is sent. The unit is compared without case.
/// A malformed `bytes=` range is kept, and [`requested_range`] answers it 416.
pub(crate) fn bytes_range(headers: &HeaderMap) -> Option<Range> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let (unit, ranges) = value.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let value = HeaderValue::from_str(&format!("bytes={ranges}")).ok()?;
    <Range as headers::Header>::decode(&mut std::iter::once(&value)).ok()
}

/// The headers every response carrying a user's bytes gets (see the module
/// docs): no type sniffing, and a sandbox without scripts for any document.
pub(crate) fn user_content_headers(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
}

/// The byte range `[start, end)` of a file of `size` bytes asked for by a
/// Range header: `None` for the whole file (no header, or several ranges,
/// which a server may answer in full).
pub(crate) fn requested_range(range: Option<&Range>, size: u64) -> ApiResult<Option<(u64, u64)>> {
    let Some(range) = range else { return Ok(None) };
    let ranges: Vec<_> = range.satisfiable_ranges(size).collect();
    if ranges.len() > 1 {
        return Ok(None);
    }
    let Some(&(start, end)) = ranges.first() else {
        return Err(ApiError::RangeNotSatisfiable { size });
    };
    let start = match start {
        Bound::Included(s) => s,
        Bound::Excluded(s) => s + 1,
        Bound::Unbounded => 0,
    };
    let end = match end {
        Bound::Included(e) => e + 1,
        Bound::Excluded(e) => e,
        Bound::Unbounded => size,
    }
    .min(size);
    if start >= end {
        return Err(ApiError::RangeNotSatisfiable { size });
    }
    Ok(Some((start, end)))
}

/// The pieces of blocks that cover `[start, end)`: (block, offset in it, length).
pub(crate) fn pieces(blocks: &[(BlockHash, u64)], start: u64, end: u64) -> Vec<(BlockHash, u64, u64)> {
    let mut pieces = Vec::new();
    let mut block_start = 0;
    for &(hash, size) in blocks {
        let block_end = block_start + size;
        if block_end > start && block_start < end {
            let from = start.max(block_start);
            let to = end.min(block_end);
            pieces.push((hash, from - block_start, to - from));
        }
        block_start = block_end;
    }
    pieces
}

pub(crate) fn content_disposition(name: &str) -> HeaderValue {
    disposition("attachment", name)
}

/// `kind` (`attachment` or `inline`) with the file name, RFC 6266's `filename*`.
pub(crate) fn disposition(kind: &'static str, name: &str) -> HeaderValue {
    let encoded = utf8_percent_encode(name, NON_ALPHANUMERIC);
    HeaderValue::from_str(&format!("{kind}; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static(kind))
}

/// The bytes of a file revision, as an attachment; honours a single
/// `Range: bytes=` range and ignores a range in any other unit.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/content", tag = "downloads", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id"), RevisionQuery),
    responses((status = 200, content_type = "*/*", body = Vec<u8>,
        description = "The file's bytes, typed by its name's extension (`application/octet-stream` when unknown)"),
        (status = 206, content_type = "*/*", body = Vec<u8>, description = "The range asked for"),
        (status = 400, body = drive_wire::ErrorBody, description = "`not_a_file`"),
        (status = 404, body = drive_wire::ErrorBody), (status = 416, body = drive_wire::ErrorBody)))]
async fn content(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Query(query): Query<RevisionQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let file = resolve(&state, auth.user_id, id, query.revision).await?;
    let range = requested_range(bytes_range(&headers).as_ref(), file.size)?;
    Ok(file_response(
        &state,
        &file.node.name,
        file.revision,
        file.size,
        &file.blocks,
        range,
    ))
}

/// The bytes `[start, end)` of a file made of `blocks`, streamed block by block.
pub(crate) fn block_stream(
    state: &AppState,
    blocks: &[(BlockHash, u64)],
    start: u64,
    end: u64,
) -> impl futures::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static {
    let (store, db) = (state.blobs.clone(), state.db.reader().clone());
    let small: HashSet<BlockHash> = blocks
        .iter()
        .filter(|(_, size)| *size <= MAX_INLINE_BLOCK)
        .map(|(hash, _)| *hash)
        .collect();
    futures::stream::iter(pieces(blocks, start, end))
        .map(move |(hash, offset, len)| {
            let (store, db) = (store.clone(), db.clone());
            let small = small.contains(&hash);
            async move {
                // A small block may be kept in the database.
                let data = match small {
                    true => inline::read(&db, hash).await.map_err(std::io::Error::other)?,
                    false => None,
                };
                let reader: BlobReader = match data {
                    Some(bytes) => Box::pin(std::io::Cursor::new(slice_of(bytes, offset, len))),
                    None => store
                        .read_range(hash, offset, len)
                        .await
                        .map_err(std::io::Error::other)?,
                };
                Ok::<_, std::io::Error>(tokio_util::io::ReaderStream::with_capacity(
                    reader,
                    crate::storage::STREAM_CHUNK,
                ))
            }
        })
        .buffered(2)
        .try_flatten()
}

/// The bytes `[offset, offset + len)` of a block held whole in memory.
fn slice_of(mut bytes: Vec<u8>, offset: u64, len: u64) -> Vec<u8> {
    let start = (offset as usize).min(bytes.len());
    let end = start.saturating_add(len as usize).min(bytes.len());
    bytes.truncate(end);
    bytes.drain(..start);
    bytes
}

/// The answer to a download of a file revision: 200 with the whole file, or
/// 206 with `range` (as resolved by [`requested_range`]).
pub(crate) fn file_response(
    state: &AppState,
    name: &str,
    revision: RevisionId,
    size: u64,
    blocks: &[(BlockHash, u64)],
    range: Option<(u64, u64)>,
) -> Response {
    let (start, end) = range.unwrap_or((0, size));
    let body = block_stream(state, blocks, start, end);

    let mut headers = HeaderMap::new();
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"r{revision}\"")) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(name));
    user_content_headers(&mut headers);
    let status = if range.is_some() {
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1)) {
            headers.insert(header::CONTENT_RANGE, value);
        }
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, headers, Body::from_stream(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> BlockHash {
        BlockHash::from_bytes([n; 32])
    }

    #[test]
    fn pieces_cover_exactly_the_range() {
        let blocks = [(h(1), 10), (h(2), 10), (h(3), 5)];
        assert_eq!(pieces(&blocks, 0, 25), vec![(h(1), 0, 10), (h(2), 0, 10), (h(3), 0, 5)]);
        assert_eq!(pieces(&blocks, 5, 15), vec![(h(1), 5, 5), (h(2), 0, 5)]);
        assert_eq!(pieces(&blocks, 20, 21), vec![(h(3), 0, 1)]);
        assert!(pieces(&blocks, 25, 25).is_empty());
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        let range = |s: &str| {
            let value = HeaderValue::from_str(s).unwrap();
            let mut values = std::iter::once(&value);
            <Range as headers::Header>::decode(&mut values).unwrap()
        };
        assert_eq!(requested_range(None, 100).unwrap(), None);
        assert_eq!(
            requested_range(Some(&range("bytes=10-19")), 100).unwrap(),
            Some((10, 20))
        );
        assert_eq!(requested_range(Some(&range("bytes=-5")), 100).unwrap(), Some((95, 100)));
        assert_eq!(
            requested_range(Some(&range("bytes=90-")), 100).unwrap(),
            Some((90, 100))
        );
        assert_eq!(
            requested_range(Some(&range("bytes=90-500")), 100).unwrap(),
            Some((90, 100))
        );
        assert!(requested_range(Some(&range("bytes=100-")), 100).is_err());
    }

    #[test]
    fn only_bytes_ranges_are_read() {
        let with = |value: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(header::RANGE, HeaderValue::from_bytes(value).unwrap());
            bytes_range(&headers)
        };
        assert!(bytes_range(&HeaderMap::new()).is_none());
        assert!(with(b"items=0-1").is_none());
        assert!(with(b"bytes0-1").is_none());
        assert!(with(b"\xff=0-1").is_none());
        assert_eq!(
            requested_range(with(b"bytes=10-19").as_ref(), 100).unwrap(),
            Some((10, 20))
        );
        assert_eq!(
            requested_range(with(b"Bytes=10-19").as_ref(), 100).unwrap(),
            Some((10, 20))
        );
        // A malformed bytes range is still read, and unsatisfiable.
        assert!(requested_range(with(b"bytes=abc").as_ref(), 100).is_err());
    }
}
