//! The blob store on an S3-compatible object store (AWS S3, Garage, MinIO...).
//!
//! Blocks are objects `PREFIX/blocks/HASH`, photo objects `PREFIX/photos/KEY`.
//! Clients PUT and GET blocks straight to and from the store through presigned
//! URLs; a presigned PUT signs `x-amz-checksum-sha256` (the block's hash, in
//! base64) and the length, so the store itself refuses any other bytes, and
//! `x-amz-meta-upload` (the token of the uploader's reservation), so that the
//! object's metadata says whose upload wrote it last: the proof of possession
//! of an upload that went straight to the store (see `uploads.rs`). The
//! server reads from the store only for the streaming download route, links,
//! photos and the consistency check.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::{
    config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation},
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    presigning::{PresignedRequest, PresigningConfig},
    primitives::ByteStream,
    Client,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use drive_wire::{BlockHash, PresignedBlock};
use tracing::Instrument;

use super::{
    blobs::{BlobReader, BlobStore, PhotoKey, PresignedUrl, StorageError, StoredBlock},
    presign::UploadGrant,
};

/// The user metadata key (`x-amz-meta-upload`) of a block object that holds
/// the token of the upload that wrote it.
const UPLOAD_META: &str = "upload";

/// Where the store is and how to sign in to it.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// e.g. `http://127.0.0.1:3900`; the SDK's default (AWS) when `None`.
    pub endpoint: Option<String>,
    /// The endpoint as clients reach it, for the presigned URLs they are
    /// given, when the server reaches the store by another (internal) name;
    /// `endpoint` when `None`.
    pub public_endpoint: Option<String>,
    /// The SDK's default chain (`AWS_REGION`, profile) when `None`.
    pub region: Option<String>,
    pub bucket: String,
    /// Prepended to every key, so several servers (or test runs) can share a bucket.
    pub prefix: String,
    /// `http://host/bucket/key` instead of `http://bucket.host/key`.
    pub path_style: bool,
    /// Static credentials; the SDK's default chain (environment, profile,
    /// web identity, container or instance role) when `None`.
    pub credentials: Option<(String, String)>,
}

pub struct S3BlobStore {
    client: Client,
    /// Signs the URLs clients use: `client` on the public endpoint.
    presigner: Client,
    bucket: String,
    blocks_prefix: String,
    photos_prefix: String,
    /// Where `--check` moves damaged blocks.
    quarantine_prefix: String,
}

fn s3_error<E>(context: impl Into<String>, err: SdkError<E>) -> StorageError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let context = context.into();
    let detail = DisplayErrorContext(&err).to_string();
    StorageError::S3 {
        context: format!("{context}: {detail}"),
        source: Box::new(err),
    }
}

/// Whether the store answered "no such object" (404), however the operation models it.
fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.raw_response().is_some_and(|r| r.status().as_u16() == 404)
        || err
            .as_service_error()
            .and_then(ProvideErrorMetadata::code)
            .is_some_and(|code| code == "NoSuchKey" || code == "NotFound")
}

fn to_chrono(time: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    // An object without a date reads as new: it is then never old enough to collect.
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_else(Utc::now)
}

fn expiry(ttl: Duration) -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(ttl).map_err(|e| StorageError::S3 {
        context: format!("presigning for {ttl:?}"),
        source: Box::new(e),
    })
}

impl S3BlobStore {
    pub async fn open(settings: S3Settings) -> Result<Self, StorageError> {
        // rustls on ring: the TLS stack the rest of the workspace uses already.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((id, secret)) = &settings.credentials {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "drive-server flags"));
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.path_style)
            // Checksums only where we ask for them: the SDK's default CRC32
            // would otherwise become a header of presigned PUTs that clients
            // cannot compute.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        let mut public = config.clone();
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        if let Some(endpoint) = settings.public_endpoint.as_ref().or(settings.endpoint.as_ref()) {
            public = public.endpoint_url(endpoint);
        }
        let prefix = settings.prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(Self {
            client: Client::from_conf(config.build()),
            presigner: Client::from_conf(public.build()),
            bucket: settings.bucket,
            blocks_prefix: format!("{prefix}blocks/"),
            photos_prefix: format!("{prefix}photos/"),
            quarantine_prefix: format!("{prefix}quarantine/"),
        })
    }

    fn block_key(&self, hash: BlockHash) -> String {
        format!("{}{hash}", self.blocks_prefix)
    }

    fn photo_key(&self, key: PhotoKey) -> String {
        format!("{}{key}", self.photos_prefix)
    }

    /// Every object under `prefix` whose name parses as a hash: (name, size, last modified).
    async fn list_under(&self, prefix: &str) -> Result<Vec<StoredBlock>, StorageError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error(format!("listing {prefix}"), e))?;
            for object in page.contents() {
                let Some(hash) = object
                    .key()
                    .and_then(|k| k.strip_prefix(prefix))
                    .and_then(|name| name.parse::<BlockHash>().ok())
                else {
                    continue;
                };
                found.push(StoredBlock {
                    hash,
                    size: object.size().unwrap_or(0).max(0) as u64,
                    modified: to_chrono(object.last_modified()),
                });
            }
        }
        Ok(found)
    }

    async fn get_object(&self, key: String, range: Option<String>) -> Result<Option<ByteStream>, StorageError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .set_range(range)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.body)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(s3_error(format!("GET {key}"), err)),
        }
    }

    async fn delete_object(&self, key: String) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| s3_error(format!("DELETE {key}"), e))?;
        Ok(())
    }
}

/// A presigned request as the client gets it, with the headers it was signed
/// with, that its sender must send as they are. `host` and `content-length`
/// are left out: every HTTP client sends them by itself (from the URL and the
/// body), and a different length still fails the signature.
fn presigned_block(hash: BlockHash, size: u64, ttl: Duration, request: &PresignedRequest) -> PresignedBlock {
    let headers = request
        .headers()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    PresignedBlock {
        hash,
        size,
        url: request.uri().to_owned(),
        expires_at: Utc::now() + ttl,
        headers,
        data: None,
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn presign_put(
        &self,
        hash: BlockHash,
        size: u64,
        grant: &UploadGrant,
        ttl: Duration,
    ) -> Result<PresignedBlock, StorageError> {
        let checksum = base64::engine::general_purpose::STANDARD.encode(hash.as_bytes());
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(self.block_key(hash))
            .content_length(size as i64)
            .checksum_sha256(checksum)
            .metadata(UPLOAD_META, &grant.token)
            .presigned(expiry(ttl)?)
            .await
            .map_err(|e| s3_error(format!("presigning PUT of block {hash}"), e))?;
        Ok(presigned_block(hash, size, ttl, &request))
    }

    /// The object's last writer was a PUT presigned for `grant`: its
    /// `x-amz-meta-upload` is the grant's token (the store checked the bytes
    /// against the signed checksum and length as they came in).
    async fn upload_proven(&self, hash: BlockHash, size: u64, grant: &UploadGrant) -> Result<bool, StorageError> {
        let key = self.block_key(hash);
        match self.client.head_object().bucket(&self.bucket).key(&key).send().await {
            Ok(out) => Ok(out.content_length().is_some_and(|len| len >= 0 && len as u64 == size)
                && out
                    .metadata()
                    .and_then(|meta| meta.get(UPLOAD_META))
                    .is_some_and(|token| *token == grant.token)),
            Err(err) if is_not_found(&err) => Ok(false),
            Err(err) => Err(s3_error(format!("HEAD {key}"), err)),
        }
    }

    async fn presign_get(&self, hash: BlockHash, size: u64, ttl: Duration) -> Result<PresignedBlock, StorageError> {
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(self.block_key(hash))
            .presigned(expiry(ttl)?)
            .await
            .map_err(|e| s3_error(format!("presigning GET of block {hash}"), e))?;
        Ok(presigned_block(hash, size, ttl, &request))
    }

    async fn stored_size(&self, hash: BlockHash) -> Result<Option<u64>, StorageError> {
        let key = self.block_key(hash);
        match self.client.head_object().bucket(&self.bucket).key(&key).send().await {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(s3_error(format!("HEAD {key}"), err)),
        }
    }

    async fn read_range(&self, hash: BlockHash, offset: u64, len: u64) -> Result<BlobReader, StorageError> {
        if len == 0 {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let range = format!("bytes={offset}-{}", offset + len - 1);
        let span = tracing::debug_span!("s3_read", %hash, offset, len);
        let body = self
            .get_object(self.block_key(hash), Some(range))
            .instrument(span)
            .await?
            .ok_or(StorageError::NotFound(hash))?;
        Ok(Box::pin(body.into_async_read()))
    }

    async fn list(&self) -> Result<Vec<StoredBlock>, StorageError> {
        self.list_under(&self.blocks_prefix)
            .instrument(tracing::debug_span!("s3_list_blocks"))
            .await
    }

    async fn delete(&self, hash: BlockHash) -> Result<(), StorageError> {
        self.delete_object(self.block_key(hash)).await
    }

    /// A server-side copy to `PREFIX/quarantine/HASH`, then the block's
    /// object deleted.
    async fn quarantine(&self, hash: BlockHash) -> Result<String, StorageError> {
        let from = self.block_key(hash);
        let to = format!("{}{hash}", self.quarantine_prefix);
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(&to)
            .send()
            .await
            .map_err(|e| s3_error(format!("copying {from} to {to}"), e))?;
        self.delete_object(from).await?;
        Ok(format!("s3://{}/{to}", self.bucket))
    }

    async fn ready(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| s3_error(format!("HEAD bucket {}", self.bucket), e))?;
        Ok(())
    }

    async fn put_photo(&self, key: PhotoKey, bytes: Vec<u8>) -> Result<(), StorageError> {
        // An S3 PUT is atomic: readers see the old object or the new one.
        let name = self.photo_key(key);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&name)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error(format!("PUT {name}"), e))?;
        Ok(())
    }

    async fn read_photo(&self, key: PhotoKey) -> Result<Vec<u8>, StorageError> {
        let name = self.photo_key(key);
        let body = self
            .get_object(name.clone(), None)
            .await?
            .ok_or(StorageError::NotFound(key))?;
        let bytes = body.collect().await.map_err(|e| StorageError::S3 {
            context: format!("reading {name}"),
            source: Box::new(e),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn delete_photo(&self, key: PhotoKey) -> Result<(), StorageError> {
        self.delete_object(self.photo_key(key)).await
    }

    async fn list_photos(&self) -> Result<Vec<PhotoKey>, StorageError> {
        Ok(self
            .list_under(&self.photos_prefix)
            .await?
            .into_iter()
            .map(|object| object.hash)
            .collect())
    }

    async fn presign_photo_get(
        &self,
        key: PhotoKey,
        content_type: &str,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(self.photo_key(key))
            // The object is stored without a type; the URL asks for the one
            // the photo row knows.
            .response_content_type(content_type)
            .response_cache_control("private, max-age=31536000, immutable")
            .presigned(expiry(ttl)?)
            .await
            .map_err(|e| s3_error(format!("presigning GET of photo {key}"), e))?;
        Ok(PresignedUrl {
            url: request.uri().to_owned(),
            expires_at: Utc::now() + ttl,
        })
    }
}
