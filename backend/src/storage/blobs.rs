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

use super::presign::UploadGrant;

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
    /// A request to the S3 store failed (network, credentials, the store's
    /// answer). The source is the SDK's error, boxed since each operation has
    /// its own type.
    #[error("S3 {context} failed")]
    S3 {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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

/// A block as listed from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlock {
    pub hash: BlockHash,
    pub size: u64,
    /// When the object was last written, for garbage collection: an object no
    /// row knows of is only deleted once it is older than the grace period
    /// (it may be an upload whose commit is still to come).
    pub modified: DateTime<Utc>,
}

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
    /// A URL that accepts exactly these bytes (by hash and size) until `ttl`
    /// passes, for the upload `grant` (the user it is handed to and their
    /// reservation's token): the bytes it carries prove possession for that
    /// user only (see `uploads.rs`).
    async fn presign_put(
        &self,
        hash: BlockHash,
        size: u64,
        grant: &UploadGrant,
        ttl: Duration,
    ) -> Result<PresignedBlock, StorageError>;

    /// Whether the stored object of `hash` is `size` bytes written through a
    /// URL of [`BlobStore::presign_put`] for `grant`: the proof of an upload
    /// that went straight to the store. `false` for a store whose PUT
    /// endpoint is the server's own (it records the proof as the bytes come
    /// in), and for an object written by anyone else's upload.
    async fn upload_proven(&self, hash: BlockHash, size: u64, grant: &UploadGrant) -> Result<bool, StorageError>;

    /// A URL that serves the block until `ttl` passes.
    async fn presign_get(&self, hash: BlockHash, size: u64, ttl: Duration) -> Result<PresignedBlock, StorageError>;

    /// The stored size of the block, if it is stored.
    async fn stored_size(&self, hash: BlockHash) -> Result<Option<u64>, StorageError>;

    /// Reads `len` bytes of the block from `offset`.
    async fn read_range(&self, hash: BlockHash, offset: u64, len: u64) -> Result<BlobReader, StorageError>;

    /// Every block in the store (for the consistency check and GC).
    async fn list(&self) -> Result<Vec<StoredBlock>, StorageError>;

    /// Deletes a block; deleting one that is not there is not an error. Only
    /// the garbage collector calls this, after taking the block's row.
    async fn delete(&self, hash: BlockHash) -> Result<(), StorageError>;

    /// Moves a damaged block aside (`quarantine/HASH`, replacing an earlier
    /// one there), kept for inspection but no longer served or listed as the
    /// block; says where it went. Only `--check` calls this.
    async fn quarantine(&self, hash: BlockHash) -> Result<String, StorageError>;

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

    /// A URL that serves the photo object, as `content_type`, until `ttl` passes.
    async fn presign_photo_get(
        &self,
        key: PhotoKey,
        content_type: &str,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError>;
}
