//! The plan where shares make it differ from the plan for the user's own
//! files.
//!
//! A share mounted in the user's tree comes through the changes feed like a
//! folder of their own, and an editor's changes are sent like any others. A
//! viewer's are not: the server answers every write under a read-only node
//! with 403 `read_only`, so sending one would fail on every pass. Instead the
//! user's bytes leave the share (as a conflicted copy in the folder holding
//! it, theirs to keep) and the share is put back as the server has it.

use super::{fetch, local_subtree_in_sync, Inputs, Op, Subtrees};
use crate::{
    ledger::RemoteNode,
    remote_tree::RemoteTree,
    scanner::{LocalItem, LocalKind},
};

/// How a local rename or move (`from` known to the ledger, `to` new) is
/// carried out.
pub(super) enum LocalMove {
    /// Replayed on the server, as for the user's own files. Includes renaming
    /// the root of a share: the server renames the mount for this user.
    Send,
    /// Into a read-only folder from a writable place: moved back, so the item
    /// stays the same node on the server (its links, its history) rather than
    /// being trashed there and reappearing as a copy.
    Undo,
    /// Out of something read-only: nothing is sent. The old path then reads
    /// as a deletion (restored by [`decide`]) and the new one as a new item
    /// (moved out of the share if it is still inside one, else uploaded).
    Refused,
}

pub(super) fn local_move(from: &str, to: &str, remote: &RemoteTree) -> LocalMove {
    if remote.read_only(from) && !remote.is_share_root(from) {
        LocalMove::Refused
    } else if remote.read_only(to) {
        LocalMove::Undo
    } else {
        LocalMove::Send
    }
}

/// The plan for `path` where a share changes it; `None` to plan it as usual.
/// `changed` is (local changed, remote changed) since the ledger.
pub(super) fn decide(
    path: &str,
    l: Option<&LocalItem>,
    r: Option<&RemoteNode>,
    changed: (bool, bool),
    inputs: &Inputs<'_>,
    claimed: &mut Subtrees,
) -> Option<Vec<Op>> {
    let remote = inputs.remote;
    // Deleting the root of a share, whatever the role, is leaving it: the
    // server drops the mount and the owner's files stay as they are. So it
    // goes whole, even with remote changes under it that would make an
    // ordinary folder be kept: trashing its children one by one would be
    // deleting the owner's files as an editor, and refused as a viewer.
    if let (None, Some(r), (true, false)) = (l, r, changed) {
        if r.share_id.is_some() {
            claimed.push(path.into());
            return Some(vec![Op::TrashRemote {
                path: path.into(),
                node_id: r.id,
            }]);
        }
    }
    if !remote.read_only(path) {
        return None;
    }
    let move_out = |l: &LocalItem, claimed: &mut Subtrees| {
        // A folder leaves with everything in it.
        if l.kind == LocalKind::Folder {
            claimed.push(path.into());
        }
        Op::MoveOutOfShare {
            path: path.into(),
            folder: remote.outside_share(path),
        }
    };
    match (changed, l, r) {
        // Deleted (or moved away) here: the server would refuse to trash it,
        // so it comes back. A folder comes back empty and each item under it
        // is restored on its own, which this same rule decides.
        ((true, false), None, Some(r)) => Some(vec![fetch(path, r)]),
        // New here, or changed here while it went from the server: nowhere in
        // the share to put it.
        ((true, _), Some(l), None) => Some(vec![move_out(l, claimed)]),
        // Edited here (or replaced by a folder, or a folder by a file): the
        // change goes out, and the server's version comes back in its place.
        ((true, false), Some(l), Some(r)) => Some(vec![move_out(l, claimed), fetch(path, r)]),
        // Gone from the server with unsynced local content under it: the
        // folder cannot be recreated there. What is in sync is deleted as for
        // any remote deletion, and each changed item under it moves out on its
        // own (so the folder is not claimed).
        ((false, true), Some(l), None) if l.kind == LocalKind::Folder && !local_subtree_in_sync(path, inputs) => {
            Some(vec![Op::DeleteLocal {
                path: path.into(),
                kind: LocalKind::Folder,
            }])
        }
        // Nothing to send: downloads, local deletions and agreements. Changed
        // on both sides (`Compare`, `Conflict`) is planned as usual too; the
        // engine puts the conflicted copy outside the share.
        _ => None,
    }
}
