//! Table tests of the planner: each case is (local, ledger, remote) -> ops.

use super::*;

const ROOT: NodeId = 1;

struct Case {
    local: HashMap<String, LocalItem>,
    skipped: HashSet<String>,
    ledger: HashMap<String, Entry>,
    remote: Vec<RemoteNode>,
}

impl Case {
    fn new() -> Self {
        Case {
            local: HashMap::new(),
            skipped: HashSet::new(),
            ledger: HashMap::new(),
            remote: Vec::new(),
        }
    }

    fn local_file(mut self, path: &str, content: &str, inode: u64) -> Self {
        let item = LocalItem {
            kind: LocalKind::File,
            size: content.len() as u64,
            mtime_ns: 1,
            inode,
            content_id: Some(content.into()),
            chunks: None,
        };
        self.local.insert(path.into(), item);
        self
    }

    fn local_dir(mut self, path: &str, inode: u64) -> Self {
        let item = LocalItem {
            kind: LocalKind::Folder,
            size: 0,
            mtime_ns: 1,
            inode,
            content_id: None,
            chunks: None,
        };
        self.local.insert(path.into(), item);
        self
    }

    fn base_file(mut self, path: &str, node: NodeId, rev: RevisionId, content: &str, inode: u64) -> Self {
        let entry = Entry {
            kind: NodeKind::File,
            node_id: node,
            revision: Some(rev),
            size: content.len() as u64,
            mtime_ns: 1,
            inode,
            content_id: Some(content.into()),
        };
        self.ledger.insert(path.into(), entry);
        self
    }

    fn base_dir(mut self, path: &str, node: NodeId, inode: u64) -> Self {
        let entry = Entry {
            kind: NodeKind::Folder,
            node_id: node,
            revision: None,
            size: 0,
            mtime_ns: 1,
            inode,
            content_id: None,
        };
        self.ledger.insert(path.into(), entry);
        self
    }

    fn remote(mut self, id: NodeId, parent: NodeId, name: &str, rev: Option<RevisionId>) -> Self {
        let kind = if rev.is_some() {
            NodeKind::File
        } else {
            NodeKind::Folder
        };
        self.remote.push(RemoteNode {
            id,
            parent_id: Some(parent),
            name: name.into(),
            kind,
            revision: rev,
            size: 0,
            modified_ms: 0,
        });
        self
    }

    fn skip(mut self, path: &str) -> Self {
        self.skipped.insert(path.into());
        self
    }

    fn plan(self) -> Vec<Op> {
        let tree = RemoteTree::build(ROOT, self.remote);
        plan(&Inputs {
            local: &self.local,
            skipped: &self.skipped,
            ledger: &self.ledger,
            remote: &tree,
        })
    }
}

fn s(path: &str) -> String {
    path.into()
}

#[test]
fn nothing_to_do_when_all_agree() {
    let ops = Case::new()
        .local_file("a.txt", "x", 10)
        .base_file("a.txt", 2, 5, "x", 10)
        .remote(2, ROOT, "a.txt", Some(5))
        .plan();
    assert_eq!(ops, vec![]);
}

#[test]
fn new_local_file_is_uploaded_and_new_folder_created() {
    let ops = Case::new().local_dir("d", 11).local_file("d/a.txt", "x", 10).plan();
    assert_eq!(
        ops,
        vec![
            Op::MkdirRemote { path: s("d") },
            Op::Upload {
                path: s("d/a.txt"),
                base: None
            }
        ]
    );
}

#[test]
fn local_edit_uploads_on_the_ledger_revision() {
    let ops = Case::new()
        .local_file("a", "new", 10)
        .base_file("a", 2, 5, "old", 10)
        .remote(2, ROOT, "a", Some(5))
        .plan();
    assert_eq!(
        ops,
        vec![Op::Upload {
            path: s("a"),
            base: Some(5)
        }]
    );
}

#[test]
fn remote_edit_downloads() {
    let ops = Case::new()
        .local_file("a", "old", 10)
        .base_file("a", 2, 5, "old", 10)
        .remote(2, ROOT, "a", Some(6))
        .plan();
    assert_eq!(
        ops,
        vec![Op::Download {
            path: s("a"),
            node_id: 2,
            revision: 6
        }]
    );
}

#[test]
fn both_edited_compares_before_deciding() {
    let ops = Case::new()
        .local_file("a", "mine", 10)
        .base_file("a", 2, 5, "old", 10)
        .remote(2, ROOT, "a", Some(6))
        .plan();
    assert_eq!(
        ops,
        vec![Op::Compare {
            path: s("a"),
            node_id: 2,
            revision: 6
        }]
    );
}

#[test]
fn local_delete_trashes_remote_and_remote_delete_deletes_local() {
    let ops = Case::new()
        .base_file("a", 2, 5, "x", 10)
        .remote(2, ROOT, "a", Some(5))
        .plan();
    assert_eq!(
        ops,
        vec![Op::TrashRemote {
            path: s("a"),
            node_id: 2
        }]
    );
    let ops = Case::new()
        .local_file("a", "x", 10)
        .base_file("a", 2, 5, "x", 10)
        .plan();
    assert_eq!(
        ops,
        vec![Op::DeleteLocal {
            path: s("a"),
            kind: LocalKind::File
        }]
    );
}

#[test]
fn deleted_locally_but_edited_remotely_comes_back() {
    let ops = Case::new()
        .base_file("a", 2, 5, "x", 10)
        .remote(2, ROOT, "a", Some(6))
        .plan();
    assert_eq!(
        ops,
        vec![Op::Download {
            path: s("a"),
            node_id: 2,
            revision: 6
        }]
    );
}

#[test]
fn edited_locally_but_deleted_remotely_is_uploaded_anew() {
    let ops = Case::new()
        .local_file("a", "new", 10)
        .base_file("a", 2, 5, "x", 10)
        .plan();
    assert_eq!(
        ops,
        vec![Op::Upload {
            path: s("a"),
            base: None
        }]
    );
}

#[test]
fn deleted_on_both_sides_is_forgotten() {
    let ops = Case::new().base_file("a", 2, 5, "x", 10).plan();
    assert_eq!(ops, vec![Op::Forget { path: s("a") }]);
}

#[test]
fn a_deleted_folder_is_trashed_whole_when_nothing_under_it_changed() {
    let ops = Case::new()
        .base_dir("d", 2, 11)
        .base_file("d/a", 3, 5, "x", 10)
        .remote(2, ROOT, "d", None)
        .remote(3, 2, "a", Some(5))
        .plan();
    assert_eq!(
        ops,
        vec![Op::TrashRemote {
            path: s("d"),
            node_id: 2
        }]
    );
}

#[test]
fn a_deleted_folder_with_a_remote_edit_inside_keeps_the_edit() {
    let ops = Case::new()
        .base_dir("d", 2, 11)
        .base_file("d/a", 3, 5, "x", 10)
        .base_file("d/b", 4, 7, "y", 12)
        .remote(2, ROOT, "d", None)
        .remote(3, 2, "a", Some(6))
        .remote(4, 2, "b", Some(7))
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::MkdirLocal {
                path: s("d"),
                node_id: 2
            },
            Op::Download {
                path: s("d/a"),
                node_id: 3,
                revision: 6
            },
            Op::TrashRemote {
                path: s("d/b"),
                node_id: 4
            },
        ]
    );
}

#[test]
fn a_remotely_deleted_folder_with_local_news_is_recreated() {
    let ops = Case::new()
        .local_dir("d", 11)
        .local_file("d/old", "x", 10)
        .local_file("d/new", "n", 12)
        .base_dir("d", 2, 11)
        .base_file("d/old", 3, 5, "x", 10)
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::MkdirRemote { path: s("d") },
            Op::Upload {
                path: s("d/new"),
                base: None
            },
            Op::DeleteLocal {
                path: s("d/old"),
                kind: LocalKind::File
            },
        ]
    );
}

#[test]
fn a_remotely_deleted_folder_in_sync_is_deleted_whole() {
    let ops = Case::new()
        .local_dir("d", 11)
        .local_file("d/old", "x", 10)
        .base_dir("d", 2, 11)
        .base_file("d/old", 3, 5, "x", 10)
        .plan();
    assert_eq!(
        ops,
        vec![Op::DeleteLocal {
            path: s("d"),
            kind: LocalKind::Folder
        }]
    );
}

#[test]
fn a_local_rename_becomes_a_remote_move() {
    let ops = Case::new()
        .local_dir("e", 11)
        .local_file("e/b.txt", "x", 10)
        .base_file("a.txt", 3, 5, "x", 10)
        .base_dir("e", 4, 11)
        .remote(3, ROOT, "a.txt", Some(5))
        .remote(4, ROOT, "e", None)
        .plan();
    assert_eq!(
        ops,
        vec![Op::MoveRemote {
            from: s("a.txt"),
            to: s("e/b.txt"),
            node_id: 3
        }]
    );
}

#[test]
fn a_folder_rename_moves_the_folder_once() {
    let ops = Case::new()
        .local_dir("new", 11)
        .local_file("new/a", "x", 10)
        .base_dir("old", 2, 11)
        .base_file("old/a", 3, 5, "x", 10)
        .remote(2, ROOT, "old", None)
        .remote(3, 2, "a", Some(5))
        .plan();
    assert_eq!(
        ops,
        vec![Op::MoveRemote {
            from: s("old"),
            to: s("new"),
            node_id: 2
        }]
    );
}

#[test]
fn a_remote_rename_becomes_a_local_move() {
    let ops = Case::new()
        .local_file("a", "x", 10)
        .base_file("a", 3, 5, "x", 10)
        .remote(3, ROOT, "b", Some(5))
        .plan();
    assert_eq!(
        ops,
        vec![Op::MoveLocal {
            from: s("a"),
            to: s("b")
        }]
    );
}

#[test]
fn a_skipped_file_is_never_taken_for_deleted() {
    let ops = Case::new()
        .base_file("a", 2, 5, "x", 10)
        .remote(2, ROOT, "a", Some(5))
        .skip("a")
        .plan();
    assert_eq!(ops, vec![]);
}

#[test]
fn a_file_replaced_by_a_folder_remotely_keeps_a_local_edit() {
    let ops = Case::new()
        .local_file("a", "mine", 10)
        .base_file("a", 2, 5, "x", 10)
        .remote(9, ROOT, "a", None)
        .plan();
    assert_eq!(ops, vec![Op::Conflict { path: s("a") }]);
}

#[test]
fn touched_but_unchanged_files_only_refresh_the_ledger() {
    let mut case = Case::new()
        .local_file("a", "x", 10)
        .base_file("a", 2, 5, "x", 10)
        .remote(2, ROOT, "a", Some(5));
    case.local.get_mut("a").unwrap().mtime_ns = 99;
    assert_eq!(
        case.plan(),
        vec![Op::Record {
            path: s("a"),
            node_id: 2,
            revision: Some(5),
            kind: NodeKind::File
        }]
    );
}
