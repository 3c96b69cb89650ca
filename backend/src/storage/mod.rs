//! Where the server keeps things: metadata in a SQL database, block bytes and
//! profile photos in a blob store, small blocks inline in the database.

pub mod blobs;
mod direct;
pub mod health;
pub mod inline;
pub mod local;
pub mod metadata;
pub mod presign;
pub mod s3;

/// Bytes per read when a stored block is streamed out: a read is a hand-off
/// to a blocking thread, so a few per block, not one per 4 KiB.
pub const STREAM_CHUNK: usize = 256 * 1024;

pub use blobs::{new_photo_key, BlobStore, PhotoKey, PresignedUrl, StorageError, StoredBlock};
pub use local::LocalBlobStore;
pub use metadata::Db;
pub use s3::{S3BlobStore, S3Settings};
