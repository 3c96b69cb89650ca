//! Selective sync: folders of the account that this device leaves on the
//! server (`drive exclude PATH`, Preferences in the desktop app).
//!
//! An excluded folder goes through two stages, told apart by the ledger:
//!
//! - **Leaving** (the ledger still has synced items under it): it syncs as
//!   before, except that nothing new is downloaded into it and nothing absent
//!   from it is deleted on the server (absence there means "excluded", not
//!   "deleted"). Once a pass finds nothing left to send from it (no local
//!   change, nothing skipped or being written), what in it is exactly as
//!   synced is removed from this device and forgotten. Anything else stays,
//!   and is sent on the next pass before it goes too.
//! - **Left** (the ledger has nothing under it): the server's items there are
//!   out of this device's view, like ignored ones, and whatever is in the
//!   local folder is left alone and reported.
//!
//! Including it again brings it back into view, and the next pass downloads
//! it (comparing contents with anything left locally, as a first sync does:
//! nothing is lost).

use std::collections::{BTreeSet, HashMap};

use crate::{
    engine::{PathError, Report, LAST_REPORT},
    ledger::{Entry, Ledger, Result as LedgerResult},
    planner::Op,
    remote_tree::{ancestors, is_within},
};

/// The ledger's meta key for the excluded paths (a JSON list).
const META_KEY: &str = "excluded";

#[derive(Debug, thiserror::Error)]
pub enum SelectiveError {
    #[error("{0:?} is not a path inside the folder")]
    BadPath(String),
    #[error("the whole folder can't be excluded; unlink it instead")]
    Root,
    #[error("{path} is inside {excluded}, which is excluded; include {excluded} first")]
    InsideExcluded { path: String, excluded: String },
    #[error("the folder's sync state could not be read or saved: {0}")]
    Ledger(#[from] crate::ledger::LedgerError),
}

/// The paths (relative, `/`-separated, NFC) excluded from sync on this device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions(BTreeSet<String>);

impl Exclusions {
    pub fn load(ledger: &Ledger) -> LedgerResult<Self> {
        let json = ledger.meta(META_KEY)?;
        let paths: Vec<String> = json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default();
        Ok(Self(paths.into_iter().collect()))
    }

    pub fn save(&self, ledger: &Ledger) -> LedgerResult<()> {
        let paths: Vec<&String> = self.0.iter().collect();
        ledger.set_meta(META_KEY, &serde_json::to_string(&paths).unwrap_or_else(|_| "[]".into()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The excluded path that `path` is, or lies under.
    pub fn covering(&self, path: &str) -> Option<&str> {
        std::iter::once(path)
            .chain(ancestors(path))
            .find_map(|p| self.0.get(p).map(String::as_str))
    }

    pub fn covers(&self, path: &str) -> bool {
        self.covering(path).is_some()
    }

    /// Excludes `path` (normalised); returns it, or `None` if it already was
    /// (itself or a folder above it). Exclusions beneath it are merged into it.
    pub fn exclude(&mut self, path: &str) -> Result<Option<String>, SelectiveError> {
        let path = normalize(path)?;
        if self.covers(&path) {
            return Ok(None);
        }
        self.0.retain(|p| !is_within(p, &path));
        self.0.insert(path.clone());
        Ok(Some(path))
    }

    /// [`Exclusions::exclude`] on the exclusions kept in `ledger`, saved.
    pub fn exclude_in(ledger: &Ledger, path: &str) -> Result<Option<String>, SelectiveError> {
        let mut exclusions = Self::load(ledger)?;
        let excluded = exclusions.exclude(path)?;
        if excluded.is_some() {
            exclusions.save(ledger)?;
        }
        Ok(excluded)
    }

    /// [`Exclusions::include`] on the exclusions kept in `ledger`, saved.
    pub fn include_in(ledger: &Ledger, path: &str) -> Result<bool, SelectiveError> {
        let mut exclusions = Self::load(ledger)?;
        let changed = exclusions.include(path)?;
        if changed {
            exclusions.save(ledger)?;
        }
        Ok(changed)
    }

    /// Includes `path` again, and anything excluded beneath it; returns
    /// whether anything changed. A path inside an excluded folder can only
    /// come back with that folder.
    pub fn include(&mut self, path: &str) -> Result<bool, SelectiveError> {
        let path = normalize(path)?;
        let above = ancestors(&path).find(|p| self.0.contains(*p)).map(str::to_owned);
        if let Some(excluded) = above {
            return Err(SelectiveError::InsideExcluded { excluded, path });
        }
        let before = self.0.len();
        self.0.retain(|p| !is_within(p, &path));
        Ok(self.0.len() != before)
    }
}

/// A path inside the folder as the ledger names it: `/`-separated, no empty,
/// `.` or `..` names, each name valid and in NFC.
pub fn normalize(path: &str) -> Result<String, SelectiveError> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err(SelectiveError::Root);
    }
    let names: Result<Vec<String>, _> = trimmed
        .split('/')
        .map(|name| drive_wire::names::validate_name(name).map_err(|_| SelectiveError::BadPath(path.to_owned())))
        .collect();
    Ok(names?.join("/"))
}

/// A folder of the account, for choosing what syncs on this device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Folder {
    /// Its path as the server names it (`a/b`).
    pub path: String,
    /// Excluded, itself or with a folder above it.
    pub excluded: bool,
    /// The bytes of the files under it, at any depth.
    pub bytes: u64,
    /// Why this device cannot hold it (its name, or one above it), as the
    /// last pass found: it stays on the server whatever is chosen.
    pub unsyncable: Option<String>,
}

/// The account's folders, by path, as the ledger's mirror of the server has
/// them (shares mounted in the tree included).
pub fn folders(ledger: &Ledger) -> LedgerResult<Vec<Folder>> {
    let exclusions = Exclusions::load(ledger)?;
    let Some(root) = ledger
        .meta("root_id")?
        .and_then(|v| v.parse::<drive_wire::NodeId>().ok())
    else {
        return Ok(Vec::new());
    };
    let unsyncable: Vec<PathError> = ledger
        .meta(LAST_REPORT)?
        .and_then(|json| serde_json::from_str::<Report>(&json).ok())
        .map(|report| report.unsyncable)
        .unwrap_or_default();
    let mut children: HashMap<drive_wire::NodeId, Vec<crate::ledger::RemoteNode>> = HashMap::new();
    for node in ledger.remote_nodes()? {
        if let Some(parent) = node.parent_id {
            children.entry(parent).or_default().push(node);
        }
    }
    let mut found: Vec<Folder> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut stack = vec![(root, String::new())];
    while let Some((id, path)) = stack.pop() {
        for child in children.remove(&id).unwrap_or_default() {
            if drive_wire::names::validate_name(&child.name).is_err() {
                continue;
            }
            let child_path = if path.is_empty() {
                child.name.clone()
            } else {
                format!("{path}/{}", child.name)
            };
            match child.kind {
                drive_wire::NodeKind::Folder => {
                    index.insert(child_path.clone(), found.len());
                    found.push(Folder {
                        excluded: exclusions.covers(&child_path),
                        unsyncable: unsyncable
                            .iter()
                            .find(|item| is_within(&child_path, &item.path))
                            .map(|item| item.message.clone()),
                        path: child_path.clone(),
                        bytes: 0,
                    });
                    stack.push((child.id, child_path));
                }
                // Counted in every folder above it.
                drive_wire::NodeKind::File => {
                    for folder in std::iter::once(path.as_str()).chain(ancestors(&path)) {
                        if let Some(&at) = index.get(folder) {
                            found[at].bytes += child.size;
                        }
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Where the excluded paths stand in one pass.
#[derive(Debug, Default)]
pub struct Stages {
    /// Out of view: the ledger has nothing under them.
    pub left: Exclusions,
    /// Still holding synced items here.
    pub leaving: Exclusions,
}

impl Stages {
    pub fn of(exclusions: &Exclusions, ledger: &HashMap<String, Entry>) -> Self {
        let mut leaving = BTreeSet::new();
        if !exclusions.is_empty() {
            for path in ledger.keys() {
                if let Some(excluded) = exclusions.covering(path) {
                    leaving.insert(excluded.to_owned());
                }
            }
        }
        let left = exclusions.0.iter().filter(|p| !leaving.contains(*p)).cloned().collect();
        Self {
            left: Exclusions(left),
            leaving: Exclusions(leaving),
        }
    }

    /// A leaving folder's ops: what would write into it from the server is
    /// dropped, and an item missing from it is forgotten, never deleted on
    /// the server.
    pub fn drain(&self, ops: Vec<Op>) -> Vec<Op> {
        if self.leaving.is_empty() {
            return ops;
        }
        ops.into_iter()
            .filter_map(|op| match op {
                Op::Download { ref path, .. } | Op::MkdirLocal { ref path, .. } if self.leaving.covers(path) => None,
                Op::TrashRemote { path, .. } if self.leaving.covers(&path) => Some(Op::Forget { path }),
                op => Some(op),
            })
            .collect()
    }

    /// The leaving folders that can go now: no op left in them, nothing in
    /// them skipped or being written. The others are told about when
    /// something in them can't be sent.
    pub fn ready<'a>(&self, ops: &[Op], unsent: impl Iterator<Item = &'a str>) -> (Vec<String>, Vec<PathError>) {
        let mut busy = BTreeSet::new();
        for op in ops {
            if let Some(excluded) = self.leaving.covering(op.path()) {
                busy.insert(excluded);
            }
        }
        let mut stuck = BTreeSet::new();
        for path in unsent {
            if let Some(excluded) = self.leaving.covering(path) {
                stuck.insert(excluded);
            }
        }
        let ready = self
            .leaving
            .paths()
            .filter(|p| !busy.contains(p) && !stuck.contains(p))
            .map(str::to_owned)
            .collect();
        let kept = stuck
            .into_iter()
            .map(|path| PathError {
                path: path.to_owned(),
                message: "excluded from sync, but kept on this device: it holds items that can't be sent to the \
                          server (listed as skipped)"
                    .into(),
            })
            .collect();
        (ready, kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_the_account_with_their_bytes_and_whether_excluded() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        assert_eq!(folders(&ledger).unwrap(), [], "nothing known yet");
        ledger.set_meta("root_id", "1").unwrap();
        use drive_wire::NodeKind::{File, Folder as Dir};
        let node = |id, parent, name: &str, kind, size| drive_wire::Node {
            id,
            parent_id: Some(parent),
            name: name.into(),
            kind,
            size,
            revision: (kind == File).then_some(1),
            modified: chrono::Utc::now(),
            trashed_at: None,
            read_only: false,
            share_id: None,
        };
        for n in [
            node(2, 1, "Photos", Dir, 0),
            node(3, 2, "2019", Dir, 0),
            node(4, 3, "a.jpg", File, 100),
            node(5, 2, "b.jpg", File, 10),
            node(6, 1, "Docs", Dir, 0),
            node(7, 1, "top.txt", File, 1),
            node(8, 1, "..", Dir, 0),
        ] {
            ledger.note_remote(&n).unwrap();
        }
        let mut ex = Exclusions::default();
        ex.exclude("Photos").unwrap();
        ex.save(&ledger).unwrap();
        let got: Vec<(String, bool, u64)> = folders(&ledger)
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.excluded, f.bytes))
            .collect();
        assert_eq!(
            got,
            [
                ("Docs".to_owned(), false, 0),
                ("Photos".to_owned(), true, 110),
                ("Photos/2019".to_owned(), true, 100),
            ],
            "a name the wire rule refuses is left out"
        );

        // The last pass found a folder this device cannot hold: it and the
        // folders under it say why.
        let report = Report {
            unsyncable: vec![PathError {
                path: "Photos".into(),
                message: "its name is reserved on Windows".into(),
            }],
            ..Report::default()
        };
        ledger
            .set_meta(LAST_REPORT, &serde_json::to_string(&report).unwrap())
            .unwrap();
        let got: Vec<(String, Option<String>)> = folders(&ledger)
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.unsyncable))
            .collect();
        let reserved = Some("its name is reserved on Windows".to_owned());
        assert_eq!(
            got,
            [
                ("Docs".to_owned(), None),
                ("Photos".to_owned(), reserved.clone()),
                ("Photos/2019".to_owned(), reserved),
            ]
        );
    }

    #[test]
    fn paths_are_normalised_and_checked() {
        assert_eq!(normalize("/Photos/2024/").unwrap(), "Photos/2024");
        assert_eq!(
            normalize("Cafe\u{301}").unwrap(),
            "Caf\u{e9}",
            "NFC, as the ledger keeps names"
        );
        assert!(matches!(normalize(""), Err(SelectiveError::Root)));
        assert!(matches!(normalize("/"), Err(SelectiveError::Root)));
        for bad in ["a/../b", "..", "a//b", "./a", "a/."] {
            assert!(matches!(normalize(bad), Err(SelectiveError::BadPath(_))), "{bad}");
        }
    }

    #[test]
    fn exclude_merges_and_include_refuses_a_path_inside_an_excluded_one() {
        let mut ex = Exclusions::default();
        assert_eq!(ex.exclude("a/b").unwrap().as_deref(), Some("a/b"));
        assert_eq!(ex.exclude("a/c").unwrap().as_deref(), Some("a/c"));
        assert_eq!(ex.exclude("a/b/deep").unwrap(), None, "already under a/b");
        assert_eq!(ex.exclude("a").unwrap().as_deref(), Some("a"));
        assert_eq!(ex.paths().collect::<Vec<_>>(), ["a"], "a/b and a/c merged into a");
        assert!(ex.covers("a") && ex.covers("a/x/y") && !ex.covers("ab") && !ex.covers("b"));
        assert!(matches!(ex.include("a/b"), Err(SelectiveError::InsideExcluded { .. })));
        assert!(ex.include("a").unwrap());
        assert!(!ex.include("a").unwrap());
        assert!(ex.is_empty());
    }

    fn entry() -> Entry {
        Entry {
            node_id: 1,
            revision: Some(1),
            size: 1,
            mtime_ns: 1,
            inode: 1,
            kind: drive_wire::NodeKind::File,
            content_id: None,
        }
    }

    #[test]
    fn leaving_folders_send_but_never_fetch_or_delete_and_go_when_idle() {
        let mut ex = Exclusions::default();
        ex.exclude("gone").unwrap();
        ex.exclude("old").unwrap();
        ex.exclude("busy").unwrap();
        ex.exclude("stuck").unwrap();
        let ledger: HashMap<String, Entry> = ["old/a", "busy", "busy/x", "stuck/y", "kept/z"]
            .into_iter()
            .map(|p| (p.to_owned(), entry()))
            .collect();
        let stages = Stages::of(&ex, &ledger);
        assert_eq!(stages.left.paths().collect::<Vec<_>>(), ["gone"]);
        assert_eq!(stages.leaving.paths().collect::<Vec<_>>(), ["busy", "old", "stuck"]);

        let ops = stages.drain(vec![
            Op::Download {
                path: "old/new".into(),
                node_id: 5,
                revision: 5,
            },
            Op::MkdirLocal {
                path: "old/dir".into(),
                node_id: 6,
            },
            Op::TrashRemote {
                path: "old/a".into(),
                node_id: 1,
            },
            Op::Upload {
                path: "busy/x".into(),
                base: Some(1),
            },
            Op::TrashRemote {
                path: "kept/z".into(),
                node_id: 1,
            },
        ]);
        assert_eq!(
            ops,
            [
                Op::Forget { path: "old/a".into() },
                Op::Upload {
                    path: "busy/x".into(),
                    base: Some(1)
                },
                Op::TrashRemote {
                    path: "kept/z".into(),
                    node_id: 1
                },
            ]
        );
        let (ready, _) = stages.ready(&ops, std::iter::empty());
        assert_eq!(ready, ["stuck"], "old/a is still to be forgotten, busy/x to be sent");
        // The next pass, once both are done.
        let (ready, kept) = stages.ready(&ops[2..], ["stuck/link"].into_iter());
        assert_eq!(ready, ["busy", "old"]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].path, "stuck");
    }
}
