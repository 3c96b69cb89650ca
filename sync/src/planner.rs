//! The planner: a pure function from (local scan, ledger, remote tree) to the
//! operations that bring both sides into agreement. A path changed on both
//! sides since the ledger is never resolved by overwriting: either the
//! contents turn out equal, or the local version is kept as a conflicted copy.
//!
//! Folders shared with the user as a viewer refuse every change; what the
//! planner does instead there is in [`shares`].

use std::collections::{BTreeSet, HashMap, HashSet};

use drive_wire::{NodeId, NodeKind, RevisionId};

use crate::{
    ledger::{Entry, RemoteNode},
    remote_tree::{ancestors, is_within, RemoteTree},
    scanner::{LocalItem, LocalKind},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A local rename or move, replayed on the server as a move.
    MoveRemote {
        from: String,
        to: String,
        node_id: NodeId,
    },
    /// A remote rename or move, replayed locally.
    MoveLocal {
        from: String,
        to: String,
    },
    /// A local move the server would refuse (into a folder shared with the
    /// user as a viewer), undone: `from` is where the user put the item, `to`
    /// where it was, which the ledger and the server still have.
    MoveBack {
        from: String,
        to: String,
    },
    MkdirRemote {
        path: String,
    },
    MkdirLocal {
        path: String,
        node_id: NodeId,
    },
    Upload {
        path: String,
        base: Option<RevisionId>,
    },
    Download {
        path: String,
        node_id: NodeId,
        revision: RevisionId,
    },
    /// Deleted locally: send the remote node (and its subtree) to the trash.
    TrashRemote {
        path: String,
        node_id: NodeId,
    },
    /// Deleted remotely: delete the local file, or the local folder and
    /// everything in it (all of it known to be in sync).
    DeleteLocal {
        path: String,
        kind: LocalKind,
    },
    /// Changed on both sides: compare contents; equal means agreement, else conflict.
    Compare {
        path: String,
        node_id: NodeId,
        revision: RevisionId,
    },
    /// Changed on both sides to different things: rename the local one to a
    /// conflicted copy (uploaded as a new file on the next pass).
    Conflict {
        path: String,
    },
    /// A local change the server would refuse (the item is in a folder shared
    /// with the user as a viewer): move the local item out into `folder`, the
    /// folder that holds the share, as a conflicted copy. There it is the
    /// user's own and is uploaded on a later pass.
    MoveOutOfShare {
        path: String,
        folder: String,
    },
    /// Both sides agree: write the agreement (fresh local stats) to the ledger.
    Record {
        path: String,
        node_id: NodeId,
        revision: Option<RevisionId>,
        kind: NodeKind,
    },
    /// Gone on both sides: drop the ledger entry.
    Forget {
        path: String,
    },
}

impl Op {
    pub fn path(&self) -> &str {
        match self {
            Op::MoveRemote { to, .. } | Op::MoveLocal { to, .. } | Op::MoveBack { to, .. } => to,
            Op::MkdirRemote { path }
            | Op::MkdirLocal { path, .. }
            | Op::Upload { path, .. }
            | Op::Download { path, .. }
            | Op::TrashRemote { path, .. }
            | Op::DeleteLocal { path, .. }
            | Op::Compare { path, .. }
            | Op::Conflict { path }
            | Op::MoveOutOfShare { path, .. }
            | Op::Record { path, .. }
            | Op::Forget { path } => path,
        }
    }
}

/// Paths taken with their subtrees; a lookup walks the path's ancestors, so
/// it costs the path's depth, not the number of paths taken.
#[derive(Debug, Default)]
pub(crate) struct Subtrees(HashSet<String>);

impl FromIterator<String> for Subtrees {
    fn from_iter<I: IntoIterator<Item = String>>(paths: I) -> Self {
        Self(paths.into_iter().collect())
    }
}

impl Subtrees {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn push(&mut self, path: String) {
        self.0.insert(path);
    }

    /// `path` is one of them or lies under one.
    pub(crate) fn covers(&self, path: &str) -> bool {
        self.0.contains(path) || ancestors(path).any(|folder| self.0.contains(folder))
    }
}

pub struct Inputs<'a> {
    pub local: &'a HashMap<String, LocalItem>,
    /// Paths the scan could not read: left alone, never taken for deletions.
    pub skipped: &'a HashSet<String>,
    pub ledger: &'a HashMap<String, Entry>,
    pub remote: &'a RemoteTree,
}

fn local_changed(local: Option<&LocalItem>, base: Option<&Entry>) -> bool {
    match (local, base) {
        (None, None) => false,
        (Some(l), Some(b)) => match (l.kind, b.kind) {
            (LocalKind::File, NodeKind::File) => l.content_id != b.content_id,
            (LocalKind::Folder, NodeKind::Folder) => false,
            _ => true,
        },
        _ => true,
    }
}

fn remote_changed(remote: Option<&RemoteNode>, base: Option<&Entry>) -> bool {
    match (remote, base) {
        (None, None) => false,
        (Some(r), Some(b)) => {
            r.kind != b.kind || r.id != b.node_id || (r.kind == NodeKind::File && r.revision != b.revision)
        }
        _ => true,
    }
}

fn same_kind(local: LocalKind, remote: NodeKind) -> bool {
    matches!(
        (local, remote),
        (LocalKind::File, NodeKind::File) | (LocalKind::Folder, NodeKind::Folder)
    )
}

pub fn plan(inputs: &Inputs<'_>) -> Vec<Op> {
    let Inputs {
        local,
        skipped,
        ledger,
        remote,
    } = *inputs;
    // A skipped path is left alone with what is under it and the folders
    // above it (which are not known to be empty, nor deleted).
    let skipped_below = Subtrees(skipped.clone());
    let skipped_above: HashSet<&str> = skipped.iter().flat_map(|path| ancestors(path)).collect();
    let is_skipped = |path: &str| skipped_below.covers(path) || skipped_above.contains(path);
    let mut ops = Vec::new();
    // Paths (with their subtrees) already decided this pass.
    let mut claimed = Subtrees::default();
    let is_claimed = |claimed: &Subtrees, path: &str| claimed.covers(path);

    let mut all: BTreeSet<&str> = BTreeSet::new();
    all.extend(local.keys().map(String::as_str));
    all.extend(ledger.keys().map(String::as_str));
    all.extend(remote.paths().map(|(p, _)| p.as_str()));

    // Local renames: the ledger's inode turns up at a new, unknown path while
    // the remote node is untouched.
    let mut new_local_by_inode: HashMap<u64, Vec<&str>> = HashMap::new();
    for (path, item) in local {
        if !ledger.contains_key(path) && remote.get(path).is_none() && item.inode != 0 {
            new_local_by_inode.entry(item.inode).or_default().push(path);
        }
    }
    // Sorted, so a folder's move is found before its children's (and covers them).
    let mut in_ledger: Vec<(&String, &Entry)> = ledger.iter().collect();
    in_ledger.sort_by_key(|(path, _)| path.as_str());
    for &(from, base) in &in_ledger {
        if local.contains_key(from) || is_skipped(from) || base.inode == 0 {
            continue;
        }
        let Some(r) = remote.get(from) else { continue };
        if remote_changed(Some(r), Some(base)) {
            continue;
        }
        let Some([to]) = new_local_by_inode.get(&base.inode).map(Vec::as_slice) else {
            continue;
        };
        let item = &local[*to];
        let same = match item.kind {
            LocalKind::Folder => base.kind == NodeKind::Folder,
            LocalKind::File => base.kind == NodeKind::File && item.content_id == base.content_id,
        };
        if same && !is_claimed(&claimed, from) && !is_claimed(&claimed, to) {
            let op = match shares::local_move(from, to, remote) {
                shares::LocalMove::Send => Op::MoveRemote {
                    from: from.clone(),
                    to: (*to).to_owned(),
                    node_id: base.node_id,
                },
                shares::LocalMove::Undo => Op::MoveBack {
                    from: (*to).to_owned(),
                    to: from.clone(),
                },
                // Left to the loop below, as a deletion and a new item.
                shares::LocalMove::Refused => continue,
            };
            ops.push(op);
            claimed.push(from.clone());
            claimed.push((*to).to_owned());
        }
    }

    // Remote renames: the ledger's node turns up at another remote path while
    // the local item is untouched and its new place is free.
    for &(from, base) in &in_ledger {
        if is_claimed(&claimed, from) || is_skipped(from) {
            continue;
        }
        let Some(to) = remote.path_of(base.node_id) else {
            continue;
        };
        // `to` under `from` (not only equal to it): another node took `from`'s
        // path and this one moved under it (a file into a folder renamed to the
        // file's old name). The local rename could never succeed and, claiming
        // both paths, would be planned again on every pass: leave them to the
        // loop below (delete here if in sync, download at the new place).
        if is_within(to, from) || local.contains_key(to) || ledger.contains_key(to) || is_claimed(&claimed, to) {
            continue;
        }
        let Some(item) = local.get(from) else { continue };
        if local_changed(Some(item), Some(base)) {
            continue;
        }
        ops.push(Op::MoveLocal {
            from: from.clone(),
            to: to.to_owned(),
        });
        claimed.push(from.clone());
        claimed.push(to.to_owned());
    }

    for path in all {
        if is_claimed(&claimed, path) || is_skipped(path) {
            continue;
        }
        let (l, b, r) = (local.get(path), ledger.get(path), remote.get(path));
        let (lc, rc) = (local_changed(l, b), remote_changed(r, b));
        if let Some(decided) = shares::decide(path, l, r, (lc, rc), inputs, &mut claimed) {
            ops.extend(decided);
            continue;
        }
        let op = match (lc, rc) {
            (false, false) => match (l, b) {
                (Some(l), Some(b)) if l.kind == LocalKind::File && (l.mtime_ns != b.mtime_ns || l.inode != b.inode) => {
                    Some(Op::Record {
                        path: path.into(),
                        node_id: b.node_id,
                        revision: b.revision,
                        kind: b.kind,
                    })
                }
                _ => None,
            },
            (true, false) => push_local(path, l, b, r, inputs, &mut claimed),
            (false, true) => pull_remote(path, l, r, inputs, &mut claimed),
            (true, true) => match (l, r) {
                (None, None) => Some(Op::Forget { path: path.into() }),
                (None, Some(r)) => Some(fetch(path, r)),
                (Some(l), None) => Some(create_remote(path, l)),
                (Some(l), Some(r)) if l.kind == LocalKind::File && r.kind == NodeKind::File => match r.revision {
                    Some(revision) => Some(Op::Compare {
                        path: path.into(),
                        node_id: r.id,
                        revision,
                    }),
                    None => Some(Op::Conflict { path: path.into() }),
                },
                (Some(l), Some(r)) if same_kind(l.kind, r.kind) => Some(Op::Record {
                    path: path.into(),
                    node_id: r.id,
                    revision: r.revision,
                    kind: r.kind,
                }),
                (Some(_), Some(_)) => Some(Op::Conflict { path: path.into() }),
            },
        };
        ops.extend(op);
    }
    ops
}

fn fetch(path: &str, r: &RemoteNode) -> Op {
    match (r.kind, r.revision) {
        (NodeKind::File, Some(revision)) => Op::Download {
            path: path.into(),
            node_id: r.id,
            revision,
        },
        _ => Op::MkdirLocal {
            path: path.into(),
            node_id: r.id,
        },
    }
}

fn create_remote(path: &str, l: &LocalItem) -> Op {
    match l.kind {
        LocalKind::File => Op::Upload {
            path: path.into(),
            base: None,
        },
        LocalKind::Folder => Op::MkdirRemote { path: path.into() },
    }
}

/// Local changed, remote did not (so `r` is what the ledger says, or absent with it).
fn push_local(
    path: &str,
    l: Option<&LocalItem>,
    b: Option<&Entry>,
    r: Option<&RemoteNode>,
    inputs: &Inputs<'_>,
    claimed: &mut Subtrees,
) -> Option<Op> {
    match (l, r) {
        (None, Some(r)) => {
            if r.kind == NodeKind::Folder && !remote_subtree_in_sync(path, inputs) {
                // Something under it changed on the server: keep the folder and
                // let each child be decided on its own.
                return Some(Op::MkdirLocal {
                    path: path.into(),
                    node_id: r.id,
                });
            }
            claimed.push(path.into());
            Some(Op::TrashRemote {
                path: path.into(),
                node_id: r.id,
            })
        }
        (None, None) => b.map(|_| Op::Forget { path: path.into() }),
        (Some(l), None) => Some(create_remote(path, l)),
        (Some(l), Some(r)) => match (l.kind, r.kind) {
            (LocalKind::File, NodeKind::File) => Some(Op::Upload {
                path: path.into(),
                base: r.revision,
            }),
            (LocalKind::Folder, NodeKind::File) => {
                claimed.push(path.into());
                Some(Op::TrashRemote {
                    path: path.into(),
                    node_id: r.id,
                })
            }
            // A file where the remote still has a folder: keep the file aside
            // rather than trash a folder that may hold changes.
            _ => Some(Op::Conflict { path: path.into() }),
        },
    }
}

/// Remote changed, local did not (so `l` is what the ledger says, or absent with it).
fn pull_remote(
    path: &str,
    l: Option<&LocalItem>,
    r: Option<&RemoteNode>,
    inputs: &Inputs<'_>,
    claimed: &mut Subtrees,
) -> Option<Op> {
    match (l, r) {
        (Some(l), None) => {
            if l.kind == LocalKind::Folder {
                if !local_subtree_in_sync(path, inputs) {
                    // Unsynced local content inside: recreate the folder remotely.
                    return Some(Op::MkdirRemote { path: path.into() });
                }
                claimed.push(path.into());
            }
            Some(Op::DeleteLocal {
                path: path.into(),
                kind: l.kind,
            })
        }
        (None, Some(r)) => Some(fetch(path, r)),
        (None, None) => Some(Op::Forget { path: path.into() }),
        (Some(l), Some(r)) => match (l.kind, r.kind) {
            (LocalKind::File, NodeKind::File) => Some(fetch(path, r)),
            (LocalKind::Folder, NodeKind::Folder) => Some(Op::Record {
                path: path.into(),
                node_id: r.id,
                revision: None,
                kind: NodeKind::Folder,
            }),
            (kind, _) => Some(Op::DeleteLocal {
                path: path.into(),
                kind,
            }),
        },
    }
}

/// Every remote node under `path` is as the ledger recorded it.
fn remote_subtree_in_sync(path: &str, inputs: &Inputs<'_>) -> bool {
    inputs
        .remote
        .paths()
        .filter(|(p, _)| is_within(p, path))
        .all(|(p, r)| !remote_changed(Some(r), inputs.ledger.get(p.as_str())))
}

/// Every local item under `path` is as the ledger recorded it, and nothing
/// under it was skipped.
fn local_subtree_in_sync(path: &str, inputs: &Inputs<'_>) -> bool {
    inputs.skipped.iter().all(|s| !is_within(s, path))
        && inputs
            .local
            .iter()
            .filter(|(p, _)| is_within(p, path))
            .all(|(p, l)| !local_changed(Some(l), inputs.ledger.get(p.as_str())))
}

#[cfg(test)]
mod property;
mod shares;
#[cfg(test)]
mod tests;
