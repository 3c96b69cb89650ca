//! Where the server keeps things: metadata in a SQL database, block bytes in a
//! blob store.

pub mod blobs;
pub mod local;
pub mod metadata;
pub mod presign;

pub use blobs::{BlobStore, StorageError};
pub use local::LocalBlobStore;
pub use metadata::Db;
