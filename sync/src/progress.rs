//! What the engine tells whoever watches it: the CLI draws bars, the desktop
//! app emits events ([`crate::activity::Monitor`]), tests ignore it.

use std::path::Path;

use drive_wire::NodeId;

use crate::{engine::PathError, guard::Held, planner::Op};

/// The file a transfer moves: an upload by its local path (absolute), a
/// download by the server's node (the planned [`Op::Download`] names its path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOf<'a> {
    Upload(&'a Path),
    Download(NodeId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Where a continuously running engine ([`crate::engine::Engine::run_with`]) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Both sides agree.
    UpToDate,
    /// The last pass ended with paths still pending or failing, or with
    /// deletions held back for the user to confirm.
    Behind {
        pending: usize,
        errors: Vec<PathError>,
        held: Option<Held>,
    },
    /// Paused by the user: no pass starts until resumed.
    Paused,
    /// The server cannot be reached; the engine retries by itself.
    Offline { message: String },
    /// The session is over: only signing in again helps.
    SignedOut { message: String },
    /// A pass failed for another reason; the engine retries.
    Failed { message: String },
}

pub trait Progress: Send + Sync + 'static {
    /// A pass planned `ops` operations.
    fn planned(&self, _ops: &[Op]) {}
    /// One operation finished, well or not.
    fn finished(&self, _op: &Op, _error: Option<&str>) {}
    /// Bytes of block content went over the network.
    fn bytes(&self, _direction: Direction, _bytes: u64) {}
    /// One file's transfer moved on: `done` of its `total` bytes are where
    /// they go (blocks the other side already had count as done). Called
    /// when it starts and after each block.
    fn transfer(&self, _file: TransferOf<'_>, _done: u64, _total: u64) {}
    /// A continuously running engine changed state (after each pass, on
    /// pause and resume).
    fn state(&self, _state: &RunState) {}
    /// How much of the folder a continuously running engine watches for
    /// changes, at start and whenever it changes; when the OS limit leaves
    /// part of it unwatched, `coverage.advice()` says so and how to raise it.
    fn watching(&self, _coverage: &crate::watcher::Coverage) {}
}

/// For callers that do not watch.
pub struct Quiet;

impl Progress for Quiet {}
