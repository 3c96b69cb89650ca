//! The mass-delete guard: a pass that would trash on the server all the
//! files synced so far, or more than a threshold, is held until the user
//! confirms it. An emptied folder (a disk not mounted, `rm -rf` by mistake,
//! a restore tool that recreated it empty) reads exactly like that.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use drive_wire::NodeKind;

use crate::{
    ledger::Entry,
    planner::{Op, Subtrees},
};

/// When deletions on the server wait for a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeleteGuard {
    /// More files than this, whatever the share.
    pub max_files: usize,
    /// With more than `share_above` files synced, more than half of them.
    pub share_above: usize,
}

impl Default for DeleteGuard {
    fn default() -> Self {
        Self {
            max_files: 1000,
            share_above: 50,
        }
    }
}

/// Deletions on the server held back, waiting for a confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Held {
    /// Files that would be trashed on the server.
    pub files: usize,
    /// Files synced in all.
    pub of: usize,
    /// The paths that would be sent to the trash (a folder stands for what
    /// is under it).
    pub paths: Vec<String>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of the {} synced files were deleted here; they are kept on the server until you confirm",
            self.files, self.of
        )
    }
}

/// What the user chose for the deletions held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Send them: trash the files on the server too.
    Delete,
    /// Keep them: download the files deleted here again.
    Keep,
}

/// Where a choice reaches the engine: whoever asks the user (the CLI's
/// flag, the app's dialog) decides, the next pass acts on it.
#[derive(Debug, Clone, Default)]
pub struct Decisions(Arc<(Mutex<Option<Choice>>, tokio::sync::Notify)>);

impl Decisions {
    pub fn decide(&self, choice: Choice) {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner()) = Some(choice);
        self.0 .1.notify_one();
    }

    pub(crate) fn take(&self) -> Option<Choice> {
        self.0 .0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Resolves when a choice is made.
    pub(crate) async fn made(&self) {
        self.0 .1.notified().await;
    }
}

impl DeleteGuard {
    /// Splits off the operations that trash on the server if there are too
    /// many of them; returns the operations to carry out and what is held.
    /// Deletions under `confirmed` (what the user was shown and confirmed)
    /// go through and do not count.
    pub fn check(
        &self,
        ops: Vec<Op>,
        ledger: &HashMap<String, Entry>,
        confirmed: &[String],
    ) -> (Vec<Op>, Option<Held>) {
        let confirmed: Subtrees = confirmed.iter().cloned().collect();
        let unconfirmed = |op: &Op| matches!(op, Op::TrashRemote { path, .. } if !confirmed.covers(path));
        let trashed: Subtrees = ops
            .iter()
            .filter(|op| unconfirmed(op))
            .map(|op| op.path().to_owned())
            .collect();
        if trashed.is_empty() {
            return (ops, None);
        }
        let files: Vec<&String> = ledger
            .iter()
            .filter(|(_, entry)| entry.kind == NodeKind::File)
            .map(|(path, _)| path)
            .collect();
        let deleted = files.iter().filter(|path| trashed.covers(path)).count();
        let all = deleted == files.len() && deleted > 1;
        let too_many = deleted > self.max_files || (files.len() > self.share_above && deleted * 2 > files.len());
        if !(all || too_many) {
            return (ops, None);
        }
        let (kept, held): (Vec<Op>, Vec<Op>) = ops.into_iter().partition(|op| !unconfirmed(op));
        let held = Held {
            files: deleted,
            of: files.len(),
            paths: held.iter().map(|op| op.path().to_owned()).collect(),
        };
        (kept, Some(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(files: usize) -> HashMap<String, Entry> {
        let mut ledger: HashMap<String, Entry> = (0..files)
            .map(|i| {
                let entry = Entry {
                    kind: NodeKind::File,
                    node_id: i as i64 + 10,
                    revision: Some(1),
                    size: 1,
                    mtime_ns: 1,
                    inode: 1,
                    content_id: None,
                };
                (format!("d/{i}.txt"), entry)
            })
            .collect();
        let folder = Entry {
            kind: NodeKind::Folder,
            node_id: 2,
            revision: None,
            size: 0,
            mtime_ns: 0,
            inode: 0,
            content_id: None,
        };
        ledger.insert("d".into(), folder);
        ledger
    }

    fn trash(paths: &[&str]) -> Vec<Op> {
        let mut ops: Vec<Op> = paths
            .iter()
            .map(|p| Op::TrashRemote {
                path: (*p).into(),
                node_id: 1,
            })
            .collect();
        ops.push(Op::MkdirRemote { path: "new".into() });
        ops
    }

    #[test]
    fn an_emptied_folder_is_held() {
        let guard = DeleteGuard::default();
        let (ops, held) = guard.check(trash(&["d"]), &ledger(3), &[]);
        let held = held.expect("all files deleted is held");
        assert_eq!((held.files, held.of), (3, 3));
        assert_eq!(ops, vec![Op::MkdirRemote { path: "new".into() }], "the rest goes on");
        // Confirmed, exactly what was shown goes through; a new deletion is held.
        let mut ledger = ledger(3);
        let mut other = ledger["d/0.txt"].clone();
        other.node_id = 99;
        ledger.insert("other".into(), other);
        let strict = DeleteGuard { max_files: 0, ..guard };
        let (ops, held) = strict.check(trash(&["d", "other"]), &ledger, &["d".to_owned()]);
        assert_eq!(ops.len(), 2, "the shown deletion and the folder go through: {ops:?}");
        assert!(held.expect("the new deletion is held").paths == vec!["other".to_owned()]);
    }

    #[test]
    fn a_few_deletions_go_through() {
        let guard = DeleteGuard::default();
        let (ops, held) = guard.check(trash(&["d/1.txt", "d/2.txt"]), &ledger(10), &[]);
        assert!(held.is_none());
        assert_eq!(ops.len(), 3);
        // The one file there is: deleting it is no accident worth a question.
        assert!(guard.check(trash(&["d/0.txt"]), &ledger(1), &[]).1.is_none());
    }

    #[test]
    fn more_than_half_of_many_or_over_the_limit_is_held() {
        let guard = DeleteGuard::default();
        let half: Vec<String> = (0..31).map(|i| format!("d/{i}.txt")).collect();
        let half: Vec<&str> = half.iter().map(String::as_str).collect();
        assert!(guard.check(trash(&half), &ledger(60), &[]).1.is_some());
        assert!(guard.check(trash(&half[..30]), &ledger(60), &[]).1.is_none());
        let small = DeleteGuard {
            max_files: 5,
            share_above: 50,
        };
        assert!(small.check(trash(&half[..6]), &ledger(60), &[]).1.is_some());
    }
}
