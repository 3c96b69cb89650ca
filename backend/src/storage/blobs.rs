//! The blob store seam: block bytes live either in a local directory (the
//! embedded default) or in an S3-compatible store. Clients never see the
//! difference: they get presigned URLs either way.

use std::{pin::Pin, time::Duration};

use async_trait::async_trait;
use drive_wire::{BlockHash, PresignedBlock};
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
}
