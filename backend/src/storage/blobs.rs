//! The blob store seam: block bytes live either in a local directory (the
//! embedded default) or in an S3-compatible store. Clients never see the
//! difference: they get presigned URLs either way.
//!
//! Besides blocks, the store keeps a second, separate namespace of objects
//! the server writes itself: profile photos (see [`PhotoKey`]).

use std::{pin::Pin, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use drive_wire::{BlockHash, PresignedBlock};
use rand::RngCore;
use tokio::io::AsyncRead;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the bytes do not match the block's SHA-256")]
    HashMismatch,
    #[error("the bytes do not match the announced size")]
    SizeMismatch,
    #[error("block {0} is not in the store")]
    NotFound(BlockHash),
    #[error("blob store I/O failed: {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Names an object of the photo namespace: 256 random bits written as 64 hex
/// digits like a block hash, so that it shares the store's naming rules (a key
/// parsed from a URL can never smuggle a path). Unlike blocks, photo objects
/// are not content-addressed: each belongs to exactly one photo row, so it can
/// be deleted as soon as that row lets go of it, without asking who else might
/// share the same bytes.
pub type PhotoKey = BlockHash;

/// A new photo key nobody has used.
pub fn new_photo_key() -> PhotoKey {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    PhotoKey::from_bytes(raw)
}

/// A presigned URL and when it stops working.
#[derive(Debug, Clone)]
pub struct PresignedUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// A URL that accepts exactly these bytes (by hash and size) until `ttl` passes.
    fn presign_put(&self, hash: BlockHash, size: u64, ttl: Duration) -> PresignedBlock;

    /// A URL that serves the block until `ttl` passes.
    fn presign_get(&self, hash: BlockHash, size: u64, ttl: Duration) -> PresignedBlock;

    /// The stored size of the block, if it is stored.
    async fn stored_size(&self, hash: BlockHash) -> Result<Option<u64>, StorageError>;

    /// Reads `len` bytes of the block from `offset`.
    async fn read_range(&self, hash: BlockHash, offset: u64, len: u64) -> Result<BlobReader, StorageError>;

    /// Every block in the store with its size (for the consistency check and GC).
    async fn list(&self) -> Result<Vec<(BlockHash, u64)>, StorageError>;

    /// Whether the store can take writes now (for `/ready`).
    async fn ready(&self) -> Result<(), StorageError>;

    /// Writes a photo object whole, atomically (readers see the old bytes or
    /// the new ones, never a torn file); replaces one with the same key.
    async fn put_photo(&self, key: PhotoKey, bytes: Vec<u8>) -> Result<(), StorageError>;

    /// Reads a whole photo object.
    async fn read_photo(&self, key: PhotoKey) -> Result<Vec<u8>, StorageError>;

    /// Deletes a photo object; deleting one that is not there is not an error.
    async fn delete_photo(&self, key: PhotoKey) -> Result<(), StorageError>;

    /// Every photo object in the store (for the consistency check).
    async fn list_photos(&self) -> Result<Vec<PhotoKey>, StorageError>;

    /// A URL that serves the photo object until `ttl` passes.
    fn presign_photo_get(&self, key: PhotoKey, ttl: Duration) -> PresignedUrl;
}
