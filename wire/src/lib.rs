//! Wire types of the drive HTTP API, shared by `drive-server` and its clients so
//! that the two sides cannot drift apart.
//!
//! ```
//! use drive_wire::{BlockHash, names::validate_name};
//! let hash: BlockHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse().unwrap();
//! assert_eq!(hash.to_string().len(), 64);
//! assert!(validate_name("..").is_err());
//! ```

pub mod api;
pub mod batch;
pub mod block;
pub mod names;
pub mod web;

pub use api::*;
pub use batch::*;
pub use block::BlockHash;
pub use web::*;

/// Prefix of every JSON API route.
pub const API_PREFIX: &str = "/api/v1";
/// Header carrying the request id; the server sets it on every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
