//! Table tests of the planner: each case is (local, ledger, remote) -> ops.

use super::*;

const ROOT: NodeId = 1;
/// Roles of a share, as the flag the server sets on its nodes.
const VIEWER: bool = true;
const EDITOR: bool = false;

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
            read_only: false,
            share_id: None,
        });
        self
    }

    /// A folder shared with the user, mounted in their root as `name`.
    fn mount(self, id: NodeId, name: &str, viewer: bool) -> Self {
        self.shared(id, ROOT, name, None, viewer).share_root(id)
    }

    /// A node in something shared with the user.
    fn shared(mut self, id: NodeId, parent: NodeId, name: &str, rev: Option<RevisionId>, viewer: bool) -> Self {
        self = self.remote(id, parent, name, rev);
        if let Some(node) = self.remote.last_mut() {
            node.read_only = viewer;
        }
        self
    }

    fn share_root(mut self, id: NodeId) -> Self {
        for node in self.remote.iter_mut().filter(|n| n.id == id) {
            node.share_id = Some(100 + id);
        }
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
fn a_remote_move_under_its_own_old_name_is_not_a_local_move() {
    // On the server: the file `doc` moved into `dir`, then `dir` renamed
    // to `doc`. Moving the local file `doc` to `doc/doc` cannot succeed.
    let ops = Case::new()
        .local_file("doc", "x", 10)
        .local_dir("dir", 11)
        .base_file("doc", 2, 5, "x", 10)
        .base_dir("dir", 3, 11)
        .remote(3, ROOT, "doc", None)
        .remote(2, 3, "doc", Some(5))
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::DeleteLocal {
                path: s("dir"),
                kind: LocalKind::Folder
            },
            Op::DeleteLocal {
                path: s("doc"),
                kind: LocalKind::File
            },
            Op::Download {
                path: s("doc/doc"),
                node_id: 2,
                revision: 5
            },
        ]
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

// ---------------------------------------------------------------- shares

/// Shared/ as the grantee has it synced: the mount (node 2), a file (3).
fn synced_share(viewer: bool) -> Case {
    Case::new()
        .local_dir("Shared", 20)
        .base_dir("Shared", 2, 20)
        .base_file("Shared/a.txt", 3, 5, "x", 21)
        .mount(2, "Shared", viewer)
        .shared(3, 2, "a.txt", Some(5), viewer)
}

#[test]
fn a_viewer_s_edit_leaves_the_share_as_a_copy_and_the_original_comes_back() {
    let ops = synced_share(VIEWER).local_file("Shared/a.txt", "mine", 21).plan();
    assert_eq!(
        ops,
        vec![
            Op::MoveOutOfShare {
                path: s("Shared/a.txt"),
                folder: s("")
            },
            Op::Download {
                path: s("Shared/a.txt"),
                node_id: 3,
                revision: 5
            },
        ]
    );
}

#[test]
fn an_editor_s_edit_is_uploaded() {
    let ops = synced_share(EDITOR).local_file("Shared/a.txt", "mine", 21).plan();
    assert_eq!(
        ops,
        vec![Op::Upload {
            path: s("Shared/a.txt"),
            base: Some(5)
        }]
    );
}

#[test]
fn a_viewer_s_new_files_and_folders_leave_the_share_whole() {
    let ops = synced_share(VIEWER)
        .local_file("Shared/a.txt", "x", 21)
        .local_file("Shared/new.txt", "n", 22)
        .local_dir("Shared/new", 23)
        .local_file("Shared/new/b.txt", "b", 24)
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::MoveOutOfShare {
                path: s("Shared/new"),
                folder: s("")
            },
            Op::MoveOutOfShare {
                path: s("Shared/new.txt"),
                folder: s("")
            },
        ]
    );
}

#[test]
fn a_viewer_s_deletions_are_not_sent_but_restored() {
    let ops = synced_share(VIEWER)
        .base_dir("Shared/d", 4, 22)
        .base_file("Shared/d/b.txt", 5, 7, "b", 23)
        .shared(4, 2, "d", None, VIEWER)
        .shared(5, 4, "b.txt", Some(7), VIEWER)
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::Download {
                path: s("Shared/a.txt"),
                node_id: 3,
                revision: 5
            },
            Op::MkdirLocal {
                path: s("Shared/d"),
                node_id: 4
            },
            Op::Download {
                path: s("Shared/d/b.txt"),
                node_id: 5,
                revision: 7
            },
        ]
    );
}

#[test]
fn a_viewer_s_rename_restores_the_original_and_moves_the_renamed_copy_out() {
    let ops = synced_share(VIEWER).local_file("Shared/b.txt", "x", 21).plan();
    assert_eq!(
        ops,
        vec![
            Op::Download {
                path: s("Shared/a.txt"),
                node_id: 3,
                revision: 5
            },
            Op::MoveOutOfShare {
                path: s("Shared/b.txt"),
                folder: s("")
            },
        ]
    );
    // Moved out of the share into the user's own folder: a copy of theirs.
    let ops = synced_share(VIEWER).local_file("mine.txt", "x", 21).plan();
    assert_eq!(
        ops,
        vec![
            Op::Download {
                path: s("Shared/a.txt"),
                node_id: 3,
                revision: 5
            },
            Op::Upload {
                path: s("mine.txt"),
                base: None
            },
        ]
    );
}

#[test]
fn an_own_file_moved_into_a_viewer_s_share_is_moved_back() {
    let ops = synced_share(VIEWER)
        .local_file("Shared/a.txt", "x", 21)
        .local_file("Shared/own.txt", "o", 30)
        .base_file("own.txt", 9, 2, "o", 30)
        .remote(9, ROOT, "own.txt", Some(2))
        .plan();
    assert_eq!(
        ops,
        vec![Op::MoveBack {
            from: s("Shared/own.txt"),
            to: s("own.txt")
        }]
    );
}

#[test]
fn deleting_the_mount_root_leaves_the_share_whole() {
    // Even with a change under it on the server: the children are the
    // owner's, never trashed one by one.
    for viewer in [VIEWER, EDITOR] {
        let mut case = synced_share(viewer);
        case.local.clear();
        let ops = case
            .base_file("Shared/c.txt", 4, 1, "c", 22)
            .shared(4, 2, "c.txt", Some(2), viewer)
            .plan();
        assert_eq!(
            ops,
            vec![Op::TrashRemote {
                path: s("Shared"),
                node_id: 2
            }]
        );
    }
}

#[test]
fn renaming_the_mount_root_renames_the_mount() {
    let mut case = synced_share(VIEWER);
    case.local.clear();
    let ops = case.local_dir("Theirs", 20).local_file("Theirs/a.txt", "x", 21).plan();
    assert_eq!(
        ops,
        vec![Op::MoveRemote {
            from: s("Shared"),
            to: s("Theirs"),
            node_id: 2
        }]
    );
}

#[test]
fn a_viewer_s_edit_of_a_shared_file_is_kept_beside_it() {
    let ops = Case::new()
        .local_file("report.pdf", "mine", 21)
        .base_file("report.pdf", 3, 5, "x", 21)
        .shared(3, ROOT, "report.pdf", Some(5), VIEWER)
        .share_root(3)
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::MoveOutOfShare {
                path: s("report.pdf"),
                folder: s("")
            },
            Op::Download {
                path: s("report.pdf"),
                node_id: 3,
                revision: 5
            },
        ]
    );
}

#[test]
fn a_folder_the_owner_deleted_keeps_only_the_viewer_s_news_outside() {
    let ops = synced_share(VIEWER)
        .local_file("Shared/a.txt", "x", 21)
        .local_dir("Shared/d", 22)
        .local_file("Shared/d/old", "o", 23)
        .local_file("Shared/d/new", "n", 24)
        .base_dir("Shared/d", 4, 22)
        .base_file("Shared/d/old", 5, 7, "o", 23)
        .plan();
    assert_eq!(
        ops,
        vec![
            Op::DeleteLocal {
                path: s("Shared/d"),
                kind: LocalKind::Folder
            },
            Op::MoveOutOfShare {
                path: s("Shared/d/new"),
                folder: s("")
            },
            Op::DeleteLocal {
                path: s("Shared/d/old"),
                kind: LocalKind::File
            },
        ]
    );
}

#[test]
fn changed_on_both_sides_in_a_viewer_s_share_is_compared_as_usual() {
    let ops = synced_share(VIEWER)
        .local_file("Shared/a.txt", "mine", 21)
        .shared(3, 2, "a.txt", Some(6), VIEWER)
        .plan();
    assert_eq!(
        ops,
        vec![Op::Compare {
            path: s("Shared/a.txt"),
            node_id: 3,
            revision: 6
        }]
    );
}

#[test]
fn a_revoked_share_goes_like_a_remote_deletion() {
    // The feed purged the mount root: nothing of the share is left remotely.
    let revoked = || {
        let mut case = synced_share(VIEWER);
        case.remote.clear();
        case
    };
    let ops = revoked().local_file("Shared/a.txt", "x", 21).plan();
    assert_eq!(
        ops,
        vec![Op::DeleteLocal {
            path: s("Shared"),
            kind: LocalKind::Folder
        }]
    );
    // A local edit is kept, as the user's own now.
    let ops = revoked().local_file("Shared/a.txt", "mine", 21).plan();
    assert_eq!(
        ops,
        vec![
            Op::MkdirRemote { path: s("Shared") },
            Op::Upload {
                path: s("Shared/a.txt"),
                base: None
            },
        ]
    );
}
