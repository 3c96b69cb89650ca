//! The drive sync engine: keeps one local folder and the user's drive in sync,
//! both ways.
//!
//! A pass scans the folder ([`scanner`]), reads the last agreed state from the
//! [`ledger`] and the remote tree mirrored from the changes feed, asks the
//! pure [`planner`] what to do, and carries it out ([`engine`], [`transfer`]).
//! The [`watcher`] and the feed's long-poll decide when the next pass runs.
//!
//! Safety: names from the server are checked against this folder's file
//! system ([`local_names`]) before they touch a path; ignored paths
//! ([`ignore_rules`]) are never read as deletions; a pass that would delete
//! many files on the server is held for a confirmation ([`guard`]); a folder
//! belongs to one account and one engine at a time, and deletions caused by
//! the server land in its local trash ([`folder`]).
//!
//! For apps: [`service`] runs the engine in the background (pause, resume,
//! [`throttle`]d speed), [`activity`] turns what it does into a status and a
//! list of recent activity, [`profile`] is who is signed in and which folder
//! syncs where, [`share`] makes public links and [`app_socket`] lets other
//! processes ask the running desktop app for one.
//!
//! ```no_run
//! # async fn example(remote: drive_sync::remote::Remote) -> Result<(), drive_sync::engine::EngineError> {
//! use std::{path::Path, sync::Arc};
//! use drive_sync::{engine::Engine, progress::Quiet};
//!
//! let engine = Engine::open(Path::new("/home/ann/Drive"), Path::new("/tmp/ledger.db"), remote, Arc::new(Quiet)).await?;
//! let report = engine.sync_once().await?;
//! assert!(report.in_sync());
//! # Ok(()) }
//! ```

pub mod activity;
pub mod app_socket;
pub mod chunker;
pub mod credentials;
pub mod engine;
pub mod folder;
pub mod fs;
pub mod guard;
pub mod ignore_rules;
pub mod io_error;
pub mod ledger;
pub mod local_names;
pub mod planner;
pub mod profile;
pub mod progress;
pub mod remote;
pub mod remote_tree;
pub mod scanner;
pub mod selective;
pub mod server;
pub mod service;
pub mod share;
#[cfg(test)]
mod sim;
pub mod throttle;
pub mod transfer;
pub mod watcher;

pub use drive_wire;
