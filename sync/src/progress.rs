//! What the engine tells whoever watches it: the CLI draws bars, the desktop
//! app emits events, tests ignore it.

use crate::planner::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

pub trait Progress: Send + Sync + 'static {
    /// A pass planned `ops` operations.
    fn planned(&self, _ops: &[Op]) {}
    /// One operation finished, well or not.
    fn finished(&self, _op: &Op, _error: Option<&str>) {}
    /// Bytes of block content went over the network.
    fn bytes(&self, _direction: Direction, _bytes: u64) {}
}

/// For callers that do not watch.
pub struct Quiet;

impl Progress for Quiet {}
