//! The model the property test runs the planner's ops on: the disk, the
//! ledger and the server, each op carried out as `Engine::apply` would,
//! refusals included.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
};

use drive_wire::{NodeId, NodeKind, RevisionId};

use crate::{
    ledger::{Entry, RemoteNode},
    planner::{same_kind, Op},
    remote_tree::{file_name, is_within, RemoteTree},
    scanner::{LocalItem, LocalKind},
};

pub const ROOT: NodeId = 1;

pub fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

pub fn entry(kind: NodeKind, node_id: NodeId, revision: Option<RevisionId>, stats: &LocalItem) -> Entry {
    Entry {
        kind,
        node_id,
        revision,
        size: stats.size,
        mtime_ns: stats.mtime_ns,
        inode: stats.inode,
        content_id: stats.content_id.clone(),
    }
}

/// The disk (`local`, content ids are the contents), the ledger and the
/// server (`nodes`, live ones only; `contents` of every revision ever made).
#[derive(Default)]
pub struct World {
    pub local: BTreeMap<String, LocalItem>,
    pub ledger: BTreeMap<String, Entry>,
    pub nodes: BTreeMap<NodeId, RemoteNode>,
    pub contents: BTreeMap<RevisionId, String>,
    /// Source of every fresh id, inode, revision, mtime and content.
    pub clock: i64,
}

pub type Fallible = Result<(), String>;

impl World {
    pub fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    pub fn tree(&self) -> RemoteTree {
        RemoteTree::build(ROOT, self.nodes.values().cloned().collect())
    }

    /// A new local item with fresh stats: how the disk sees any write.
    pub fn write_local(&mut self, path: &str, content: Option<String>) {
        let item = LocalItem {
            kind: if content.is_some() {
                LocalKind::File
            } else {
                LocalKind::Folder
            },
            size: content.as_ref().map_or(0, |c| c.len() as u64),
            mtime_ns: self.tick(),
            inode: self.tick() as u64,
            content_id: content,
            chunks: None,
        };
        self.local.insert(path.to_owned(), item);
    }

    pub fn take_local(&mut self, path: &str) -> Vec<(String, LocalItem)> {
        let under: Vec<String> = self.local.keys().filter(|p| is_within(p, path)).cloned().collect();
        let taken = under.into_iter().map(|p| (p.clone(), self.local.remove(&p).unwrap()));
        taken.map(|(p, item)| (p[path.len()..].to_owned(), item)).collect()
    }

    /// `std::fs::rename` where the target is free: the subtree keeps its inodes.
    pub fn rename_local(&mut self, from: &str, to: &str) -> Fallible {
        let parent = parent_of(to);
        if !self.local.contains_key(from) || self.local.contains_key(to) || is_within(to, from) {
            return Err(format!("cannot rename {from} to {to}"));
        }
        if !parent.is_empty() && self.local.get(parent).is_none_or(|p| p.kind != LocalKind::Folder) {
            return Err(format!("no folder {parent}"));
        }
        for (rest, item) in self.take_local(from) {
            self.local.insert(format!("{to}{rest}"), item);
        }
        Ok(())
    }

    /// `std::fs::create_dir_all`.
    fn mkdir_all(&mut self, path: &str) -> Fallible {
        let mut prefix = String::new();
        for name in path.split('/') {
            prefix = join(&prefix, name);
            match self.local.get(&prefix) {
                Some(item) if item.kind == LocalKind::File => return Err(format!("{prefix} is a file")),
                Some(_) => {}
                None => self.write_local(&prefix, None),
            }
        }
        Ok(())
    }

    fn ledger_remove(&mut self, path: &str) {
        self.ledger.retain(|p, _| !is_within(p, path));
    }

    fn ledger_rename(&mut self, from: &str, to: &str) {
        self.ledger_remove(to);
        let moved: Vec<String> = self.ledger.keys().filter(|p| is_within(p, from)).cloned().collect();
        for path in moved {
            let entry = self.ledger.remove(&path).unwrap();
            self.ledger.insert(format!("{to}{}", &path[from.len()..]), entry);
        }
    }

    pub fn child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        self.nodes
            .values()
            .find(|n| n.parent_id == Some(parent) && n.name == name)
            .map(|n| n.id)
    }

    /// `ancestor` is `id` or a folder above it.
    fn under(&self, mut id: NodeId, ancestor: NodeId) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            match self.nodes.get(&id).and_then(|n| n.parent_id) {
                Some(parent) => id = parent,
                None => return false,
            }
        }
    }

    /// The server's create (a folder, or a file's first revision).
    pub fn create_node(&mut self, parent: NodeId, name: &str, content: Option<String>) -> Result<NodeId, String> {
        if self.child(parent, name).is_some() {
            return Err("name_taken".into());
        }
        let id = self.tick();
        let revision = content.map(|c| {
            let revision = self.tick();
            self.contents.insert(revision, c);
            revision
        });
        let kind = if revision.is_some() {
            NodeKind::File
        } else {
            NodeKind::Folder
        };
        let node = RemoteNode {
            id,
            parent_id: Some(parent),
            name: name.into(),
            kind,
            revision,
            size: 0,
            modified_ms: 0,
            read_only: false,
            share_id: None,
        };
        self.nodes.insert(id, node);
        Ok(id)
    }

    pub fn new_revision(&mut self, id: NodeId, content: String) -> RevisionId {
        let revision = self.tick();
        self.contents.insert(revision, content);
        self.nodes.get_mut(&id).unwrap().revision = Some(revision);
        revision
    }

    /// The server's commit (`uploads::resolve_target`): by parent and name.
    fn commit(
        &mut self,
        parent: NodeId,
        name: &str,
        base: Option<RevisionId>,
        content: String,
    ) -> Result<NodeId, String> {
        match (self.child(parent, name).map(|id| &self.nodes[&id]), base) {
            (None, None) => self.create_node(parent, name, Some(content)),
            (Some(n), _) if n.kind == NodeKind::Folder => Err("name_taken".into()),
            (Some(n), Some(base)) if n.revision == Some(base) => {
                let id = n.id;
                self.new_revision(id, content);
                Ok(id)
            }
            _ => Err("stale_revision".into()),
        }
    }

    /// The server's `update_node`.
    pub fn move_node(&mut self, id: NodeId, parent: NodeId, name: &str) -> Fallible {
        let node = self.nodes.get(&id).ok_or("not_found")?;
        if node.parent_id == Some(parent) && node.name == name {
            return Ok(());
        }
        if self.under(parent, id) {
            return Err("a folder cannot be moved into itself".into());
        }
        if self.child(parent, name).is_some() {
            return Err("name_taken".into());
        }
        let node = self.nodes.get_mut(&id).unwrap();
        (node.parent_id, node.name) = (Some(parent), name.into());
        Ok(())
    }

    /// The server's trash: the node and everything under it.
    pub fn trash(&mut self, id: NodeId) {
        let gone: Vec<NodeId> = self.nodes.keys().copied().filter(|&n| self.under(n, id)).collect();
        for n in gone {
            self.nodes.remove(&n);
        }
    }

    /// `Engine::keep_conflicted_copy`, beside the original.
    fn conflicted_copy(&mut self, path: &str) -> Fallible {
        let name = file_name(path);
        let (stem, ext) = match name.rfind('.') {
            Some(dot) if dot > 0 => name.split_at(dot),
            _ => (name, ""),
        };
        let copy = (1..100)
            .map(|n| join(parent_of(path), &format!("{stem} (conflicted copy sim {n}){ext}")))
            .find(|copy| !self.local.contains_key(copy))
            .ok_or("too many conflicted copies")?;
        self.rename_local(path, &copy)?;
        self.ledger_remove(path);
        Ok(())
    }

    /// `Engine::delete_local`: only what is as `base` (the plan's ledger) has it.
    fn delete_local(&mut self, path: &str, kind: LocalKind, base: &HashMap<String, Entry>) -> Fallible {
        let unchanged = |rel: &str, item: &LocalItem| {
            base.get(rel).is_some_and(|e| match e.kind {
                NodeKind::Folder => item.inode == e.inode || e.inode == 0,
                NodeKind::File => item.size == e.size && item.mtime_ns == e.mtime_ns && item.inode == e.inode,
            })
        };
        if kind == LocalKind::File {
            return match self.local.get(path) {
                Some(item) if item.kind == LocalKind::File && unchanged(path, item) => {
                    self.local.remove(path);
                    Ok(())
                }
                _ => Err("it changed locally; kept".into()),
            };
        }
        // Deepest first: files as synced go, then every folder left empty.
        let mut under: Vec<String> = self.local.keys().filter(|p| is_within(p, path)).cloned().collect();
        under.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
        for rel in under {
            let item = &self.local[&rel];
            let gone = match item.kind {
                LocalKind::Folder => !self.local.keys().any(|p| p != &rel && is_within(p, &rel)),
                LocalKind::File => unchanged(&rel, item),
            };
            if gone {
                self.local.remove(&rel);
            }
        }
        Ok(())
    }

    /// `Engine::apply` of one op planned from `scan` and `base`, on the
    /// disk and server as they are now (earlier ops of the round applied).
    /// Parents are looked up in the server's tree as it is now; the engine's
    /// own copy (updated after its own creates and moves) differs only after
    /// a `TrashRemote`, where the server refuses to create in the trashed
    /// folder anyway.
    pub fn apply(&mut self, op: &Op, scan: &HashMap<String, LocalItem>, base: &HashMap<String, Entry>) -> Fallible {
        let tree = self.tree();
        let parent_id = |path: &str| tree.parent_id(path).ok_or("its folder is not on the server yet");
        let gone = |path: &str| format!("reading {path}: not found");
        match op {
            Op::MkdirRemote { path } => {
                let id = self.create_node(parent_id(path)?, file_name(path), None)?;
                // Read after the server made the folder, as the engine does.
                let item = self.local.get(path).ok_or_else(|| gone(path))?;
                let entry = Entry {
                    content_id: None,
                    ..entry(NodeKind::Folder, id, None, item)
                };
                self.ledger.insert(path.clone(), entry);
            }
            Op::MkdirLocal { path, node_id } => {
                self.mkdir_all(path)?;
                let entry = entry(NodeKind::Folder, *node_id, None, &self.local[path]);
                self.ledger.insert(path.clone(), entry);
            }
            Op::MoveRemote { from, to, node_id } => {
                self.move_node(*node_id, parent_id(to)?, file_name(to))?;
                self.ledger_rename(from, to);
            }
            Op::MoveLocal { from, to } => {
                self.rename_local(from, to)?;
                self.ledger_rename(from, to);
            }
            Op::MoveBack { from, to } => self.rename_local(from, to)?,
            Op::MoveOutOfShare { .. } => unreachable!("the model has no shares"),
            Op::Upload { path, base: revision } => {
                let parent = parent_id(path)?;
                let item = self.local.get(path).filter(|i| i.kind == LocalKind::File).cloned();
                let item = item.ok_or_else(|| format!("cannot read {path} as a file"))?;
                let content = item.content_id.clone().unwrap();
                let id = self.commit(parent, file_name(path), *revision, content)?;
                self.ledger
                    .insert(path.clone(), entry(NodeKind::File, id, self.nodes[&id].revision, &item));
            }
            Op::Download {
                path,
                node_id,
                revision,
            } => {
                let stats = |item: &LocalItem| (item.size, item.mtime_ns, item.inode);
                let expected = match (scan.get(path), base.get(path)) {
                    (Some(item), Some(_)) if item.kind == LocalKind::File => Some(stats(item)),
                    (None, _) => None,
                    _ => return Err(format!("{path} is in the way locally")),
                };
                if !parent_of(path).is_empty() {
                    self.mkdir_all(parent_of(path))?;
                }
                if self.local.get(path).map(stats) != expected {
                    return Err("the file changed while it was being transferred".into());
                }
                // Renamed into place from a temp file: a new inode.
                self.write_local(path, Some(self.contents[revision].clone()));
                let entry = entry(NodeKind::File, *node_id, Some(*revision), &self.local[path]);
                self.ledger.insert(path.clone(), entry);
            }
            Op::Compare {
                path,
                node_id,
                revision,
            } => {
                let item = scan.get(path).ok_or("it vanished")?;
                if item.content_id.as_ref() == Some(&self.contents[revision]) {
                    self.ledger
                        .insert(path.clone(), entry(NodeKind::File, *node_id, Some(*revision), item));
                } else {
                    self.conflicted_copy(path)?;
                }
            }
            Op::Conflict { path } => self.conflicted_copy(path)?,
            Op::TrashRemote { path, node_id } => {
                self.trash(*node_id);
                self.ledger_remove(path);
            }
            Op::DeleteLocal { path, kind } => {
                self.delete_local(path, *kind, base)?;
                self.ledger_remove(path);
            }
            Op::Record {
                path,
                node_id,
                revision,
                kind,
            } => {
                let item = self.local.get(path).ok_or_else(|| gone(path))?;
                let content_id = scan.get(path).and_then(|i| i.content_id.clone());
                let entry = Entry {
                    content_id,
                    ..entry(*kind, *node_id, *revision, item)
                };
                self.ledger.insert(path.clone(), entry);
            }
            Op::Forget { path } => self.ledger_remove(path),
        }
        Ok(())
    }

    /// Both sides and the ledger hold the same paths, kinds and contents.
    pub fn check_agreement(&self) -> Fallible {
        let tree = self.tree();
        let remote: BTreeMap<&String, &RemoteNode> = tree.paths().collect();
        let local: Vec<&String> = self.local.keys().collect();
        if local != remote.keys().copied().collect::<Vec<_>>() || local != self.ledger.keys().collect::<Vec<_>>() {
            return Err("local, remote and ledger hold different paths".into());
        }
        for (path, item) in &self.local {
            let (node, entry) = (remote[path], &self.ledger[path]);
            let theirs = node.revision.map(|r| self.contents[&r].clone());
            if !same_kind(item.kind, node.kind) || item.content_id != theirs {
                return Err(format!("{path}: local {item:?} but remote {node:?}"));
            }
            if entry.kind != node.kind || entry.node_id != node.id || entry.revision != node.revision {
                return Err(format!("{path}: the ledger has {entry:?} but remote {node:?}"));
            }
            if entry.content_id != item.content_id {
                return Err(format!("{path}: the ledger has {entry:?} but local {item:?}"));
            }
        }
        Ok(())
    }

    pub fn dump(&self) -> String {
        let mut out = String::from("  local:\n");
        for (path, item) in &self.local {
            let _ = writeln!(out, "    {path:24} {:?} ino {}", item.content_id, item.inode);
        }
        out.push_str("  remote:\n");
        let tree = self.tree();
        let remote: BTreeMap<&String, &RemoteNode> = tree.paths().collect();
        for (path, node) in remote {
            let content = node.revision.map(|r| &self.contents[&r]);
            let _ = writeln!(out, "    {path:24} {content:?} id {} rev {:?}", node.id, node.revision);
        }
        out.push_str("  ledger:\n");
        for (path, e) in &self.ledger {
            let _ = writeln!(
                out,
                "    {path:24} {:?} id {} rev {:?} ino {}",
                e.content_id, e.node_id, e.revision, e.inode
            );
        }
        out
    }
}
