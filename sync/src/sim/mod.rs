//! Deterministic simulation of the whole engine, in the spirit of Dropbox's
//! CanopyCheck and Trinity: two or three devices, each an [`Engine`] over a
//! file system in memory ([`mem_fs`]: POSIX, case-insensitive or
//! Windows-like), all syncing with one model of the server ([`server`]),
//! while users edit devices and the web. Calls fail (I/O errors, 5xx,
//! answers lost after the server acted) and processes die mid-pass
//! ([`dying`]), keeping only what was fsynced. Then every device syncs until
//! nothing changes, and [`run`] checks: every device holds the server's tree
//! (as far as its file system can), every content a user wrote is still
//! somewhere (at a path, a conflicted copy, the local trash, a revision),
//! no file holds bytes nobody wrote, and nothing was written outside a
//! device's folder. Everything is driven by one seed and replays exactly.
//!
//! [`Engine`]: crate::engine::Engine

mod dying;
mod invariants;
pub mod mem_fs;
mod run;
pub mod server;
mod tests;
