//! The remote tree by local path, rebuilt from the ledger's mirror of the
//! changes feed.
//!
//! Names come from the server and are untrusted: [`RemoteTree::build_for`]
//! keeps out (with their subtrees) the nodes whose names this folder cannot
//! hold, reporting them, and those this device ignores; on a
//! case-insensitive file system it gives a node whose name collides with a
//! sibling's a local alias. A node's `name` stays the server's; its path in
//! the tree is where it lives locally.

use std::collections::{HashMap, HashSet};

use drive_wire::NodeId;

use crate::{
    ignore_rules::IgnoreRules,
    ledger::RemoteNode,
    local_names::{case_alias, FsRules, Unsyncable},
    selective::Exclusions,
};

/// How this device sees the remote tree.
pub struct LocalView<'a> {
    pub rules: FsRules,
    pub ignore: Option<&'a IgnoreRules>,
    /// Folders excluded from sync that have left this device.
    pub excluded: Option<&'a Exclusions>,
    /// Where the ledger last put each node: an alias keeps its name.
    pub known: &'a HashMap<NodeId, String>,
}

/// A remote item this device leaves on the server, and why.
/// Case aliases of one name told apart (`a (case conflict 99).txt`).
const MAX_ALIASES: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// Its path as the server names it.
    pub path: String,
    pub why: Unsyncable,
}

#[derive(Debug, Default, Clone)]
pub struct RemoteTree {
    pub root_id: NodeId,
    by_path: HashMap<String, RemoteNode>,
    path_of: HashMap<NodeId, String>,
    /// The unsyncable ones among them, reported.
    unmapped: Vec<Unmapped>,
}

impl RemoteTree {
    /// The tree as a case-sensitive file system that takes any valid name
    /// sees it, ignoring nothing (for tests of the planner).
    #[cfg(test)]
    pub fn build(root_id: NodeId, nodes: Vec<RemoteNode>) -> Self {
        Self::build_under(root_id, nodes, FsRules::default())
    }

    /// The tree as a file system with `rules` sees it, ignoring nothing.
    #[cfg(test)]
    pub fn build_under(root_id: NodeId, nodes: Vec<RemoteNode>, rules: FsRules) -> Self {
        let known = HashMap::new();
        let view = LocalView {
            rules,
            ignore: None,
            excluded: None,
            known: &known,
        };
        Self::build_for(root_id, nodes, &view)
    }

    /// Only nodes reachable from the root count: the children of a trashed
    /// folder linger in the mirror but are not in the tree.
    pub fn build_for(root_id: NodeId, nodes: Vec<RemoteNode>, view: &LocalView<'_>) -> Self {
        let mut children: HashMap<NodeId, Vec<RemoteNode>> = HashMap::new();
        for node in nodes {
            if let Some(parent) = node.parent_id {
                children.entry(parent).or_default().push(node);
            }
        }
        let mut tree = RemoteTree {
            root_id,
            ..Default::default()
        };
        // Local names the ledger has in each folder, by node: an alias
        // must not take one that another item still holds here.
        let mut held: HashMap<&str, Vec<(NodeId, String)>> = HashMap::new();
        if view.rules.case_insensitive {
            for (id, path) in view.known {
                let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
                held.entry(folder).or_default().push((*id, view.rules.fold(name)));
            }
        }
        // (folder id, its local path, its path on the server)
        let mut stack = vec![(root_id, String::new(), String::new())];
        while let Some((id, prefix, remote_prefix)) = stack.pop() {
            let join = |prefix: &str, name: &str| {
                if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}/{name}")
                }
            };
            let mut kept = Vec::new();
            for child in children.remove(&id).unwrap_or_default() {
                let why = view.rules.check(&child.name, prefix.is_empty()).err();
                let ignored = why.is_none() && {
                    let path = join(&prefix, &child.name);
                    view.ignore
                        .is_some_and(|rules| rules.is_ignored(&path, child.kind == drive_wire::NodeKind::Folder))
                        || view.excluded.is_some_and(|excluded| excluded.covers(&path))
                };
                if why.is_none() && !ignored {
                    kept.push(child);
                    continue;
                }
                if let Some(why) = why {
                    tree.unmapped.push(Unmapped {
                        path: join(&remote_prefix, &child.name),
                        why,
                    });
                }
                // Nothing under it is synced either.
                let mut below = vec![child.id];
                while let Some(id) = below.pop() {
                    below.extend(children.remove(&id).unwrap_or_default().iter().map(|n| n.id));
                }
            }
            let held_here = held.get(prefix.as_str()).map_or(&[][..], Vec::as_slice);
            for (name, child) in local_names(kept, &prefix, held_here, view) {
                let path = join(&prefix, &name);
                // Too deep for this device: it and all under it stay out.
                if let Err(why) = view.rules.check_length(&path) {
                    tree.unmapped.push(Unmapped {
                        path: join(&remote_prefix, &child.name),
                        why,
                    });
                    continue;
                }
                stack.push((child.id, path.clone(), join(&remote_prefix, &child.name)));
                tree.path_of.insert(child.id, path.clone());
                tree.by_path.insert(path, child);
            }
        }
        tree.unmapped.sort_by(|a, b| a.path.cmp(&b.path));
        tree
    }

    /// Puts `node` at the local `path` (this client's own change, as the
    /// server answered it): a new node is added, a moved one takes its
    /// subtree along.
    pub fn place(&mut self, path: &str, node: RemoteNode) {
        if let Some(old) = self.path_of.get(&node.id).cloned() {
            if old != path {
                let moved: Vec<String> = self.by_path.keys().filter(|p| is_within(p, &old)).cloned().collect();
                for from in moved {
                    if let Some(child) = self.by_path.remove(&from) {
                        let to = format!("{path}{}", &from[old.len()..]);
                        self.path_of.insert(child.id, to.clone());
                        self.by_path.insert(to, child);
                    }
                }
            }
        }
        self.path_of.insert(node.id, path.to_owned());
        self.by_path.insert(path.to_owned(), node);
    }

    /// The remote items whose names cannot exist in this folder.
    pub fn unmapped(&self) -> &[Unmapped] {
        &self.unmapped
    }

    /// The server's name of the node at a local path (which differs from the
    /// path's last name for a case alias).
    pub fn remote_name<'a>(&'a self, path: &'a str) -> &'a str {
        self.by_path
            .get(path)
            .map_or(file_name(path), |node| node.name.as_str())
    }

    pub fn get(&self, path: &str) -> Option<&RemoteNode> {
        self.by_path.get(path)
    }

    /// Whether the server's name for a new item at `path` is held there by
    /// an item this device keeps elsewhere (a case alias): creating it can
    /// only fail.
    pub fn name_held_elsewhere(&self, path: &str) -> bool {
        let Some(parent) = self.parent_id(path) else {
            return false;
        };
        let name = file_name(path);
        // An item whose server name is `name` is kept here under `name`
        // itself or one of its aliases: a few lookups, not a walk of the tree.
        let folder = path.rsplit_once('/').map(|(folder, _)| folder);
        (1..MAX_ALIASES).any(|n| {
            let alias = case_alias(name, n);
            let at = folder.map_or_else(|| alias.clone(), |folder| format!("{folder}/{alias}"));
            self.by_path
                .get(&at)
                .is_some_and(|node| node.parent_id == Some(parent) && node.name == name)
        })
    }

    pub fn path_of(&self, id: NodeId) -> Option<&str> {
        self.path_of.get(&id).map(String::as_str)
    }

    /// The id of the folder that holds `path` (the root for a top-level name).
    pub fn parent_id(&self, path: &str) -> Option<NodeId> {
        match path.rsplit_once('/') {
            None => Some(self.root_id),
            Some((parent, _)) => self
                .by_path
                .get(parent)
                .filter(|n| n.kind == drive_wire::NodeKind::Folder)
                .map(|n| n.id),
        }
    }

    /// Whether the server refuses changes at `path`: the node there is
    /// read-only, or (for a new item) the nearest folder above it that the
    /// server has is. The root of a share is read-only for a viewer too;
    /// removing or renaming it is the exception, left to the caller.
    pub fn read_only(&self, path: &str) -> bool {
        match self.by_path.get(path) {
            Some(node) if node.read_only => true,
            _ => ancestors(path)
                .find_map(|folder| self.by_path.get(folder))
                .is_some_and(|node| node.read_only),
        }
    }

    /// The root of a share mounted in the user's tree (the node with a
    /// `share_id`).
    pub fn is_share_root(&self, path: &str) -> bool {
        self.by_path.get(path).is_some_and(|node| node.share_id.is_some())
    }

    /// The nearest place a change at `path` can go instead: the folder that
    /// holds the share `path` is in ("" for the sync root, where shares are
    /// mounted). The sync root, if no share root is known above `path`.
    pub fn outside_share(&self, path: &str) -> String {
        std::iter::once(path)
            .chain(ancestors(path))
            .find(|p| self.is_share_root(p))
            .and_then(|root| root.rsplit_once('/'))
            .map(|(folder, _)| folder.to_owned())
            .unwrap_or_default()
    }

    pub fn paths(&self) -> impl Iterator<Item = (&String, &RemoteNode)> {
        self.by_path.iter()
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}

/// The local names of a folder's children. On a case-insensitive file
/// system, names that fold alike share one local name: the node the ledger
/// already has there keeps it (else the oldest node), and the others get an
/// alias, the one the ledger knows if it is still free.
fn local_names(
    nodes: Vec<RemoteNode>,
    prefix: &str,
    held: &[(NodeId, String)],
    view: &LocalView<'_>,
) -> Vec<(String, RemoteNode)> {
    if !view.rules.case_insensitive {
        return nodes.into_iter().map(|node| (node.name.clone(), node)).collect();
    }
    let known_name = |node: &RemoteNode| {
        view.known
            .get(&node.id)
            .filter(|path| path.rsplit_once('/').map_or("", |(folder, _)| folder) == prefix)
            .map(|path| file_name(path).to_owned())
    };
    let mut nodes = nodes;
    // Who keeps the plain name: the ledger's holder first (in whatever case:
    // a rename on the server that only changes case keeps its place), then
    // the oldest of those the ledger does not know; one known under an
    // alias keeps it.
    nodes.sort_by_key(|node| {
        let rank = match known_name(node) {
            Some(known) if view.rules.fold(&known) == view.rules.fold(&node.name) => 0,
            None => 1,
            Some(_) => 2,
        };
        (rank, node.id)
    });
    // Names still held here by items of the ledger that are not in this
    // folder on the server any more (moving away, or deleted): nothing can
    // take one until they go, and they may be going into it (a file moved
    // into a new folder of its own name in another case). What would take
    // one gets an alias for now, which gives way to the plain name once
    // they are gone.
    let listed: HashSet<NodeId> = nodes.iter().map(|node| node.id).collect();
    let held_by_others: HashSet<&String> = held
        .iter()
        .filter(|(id, _)| !listed.contains(id))
        .map(|(_, name)| name)
        .collect();
    let mut taken: HashSet<String> = HashSet::new();
    let mut named = Vec::with_capacity(nodes.len());
    let mut collided = Vec::new();
    for node in nodes {
        let fold = view.rules.fold(&node.name);
        if !held_by_others.contains(&fold) && taken.insert(fold) {
            named.push((node.name.clone(), node));
        } else {
            collided.push(node);
        }
    }
    taken.extend(held_by_others.into_iter().cloned());
    for node in collided {
        let known = known_name(&node)
            .filter(|name| (1..MAX_ALIASES).any(|n| case_alias(&node.name, n) == *name))
            .filter(|name| !taken.contains(&view.rules.fold(name)));
        let name = known.unwrap_or_else(|| {
            (1..)
                .map(|n| case_alias(&node.name, n))
                .find(|alias| !taken.contains(&view.rules.fold(alias)))
                .unwrap_or_default()
        });
        taken.insert(view.rules.fold(&name));
        named.push((name, node));
    }
    named
}

/// `child` is `ancestor` itself or lies under it.
pub fn is_within(child: &str, ancestor: &str) -> bool {
    child == ancestor
        || (child.len() > ancestor.len() && child.starts_with(ancestor) && child.as_bytes()[ancestor.len()] == b'/')
}

/// The folders above a `/`-path, nearest first, without the root.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(path.rsplit_once('/').map(|(parent, _)| parent), |p| {
        p.rsplit_once('/').map(|(parent, _)| parent)
    })
}

/// The last name of a `/`-path.
pub fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drive_wire::NodeKind;

    fn node(id: NodeId, parent: NodeId, name: &str, kind: NodeKind) -> RemoteNode {
        RemoteNode {
            id,
            parent_id: Some(parent),
            name: name.into(),
            kind,
            revision: None,
            size: 0,
            modified_ms: 0,
            read_only: false,
            share_id: None,
        }
    }

    #[test]
    fn builds_paths_from_parents_and_hides_orphans() {
        let tree = RemoteTree::build(
            1,
            vec![
                node(2, 1, "a", NodeKind::Folder),
                node(3, 2, "b.txt", NodeKind::File),
                node(4, 99, "orphan", NodeKind::File),
            ],
        );
        assert_eq!(tree.get("a/b.txt").map(|n| n.id), Some(3));
        assert_eq!(tree.path_of(3), Some("a/b.txt"));
        assert!(tree.path_of(4).is_none());
        assert_eq!(tree.parent_id("a/new"), Some(2));
        assert_eq!(tree.parent_id("top"), Some(1));
        assert_eq!(tree.parent_id("a/b.txt/x"), None);
    }

    #[test]
    fn hostile_and_unholdable_names_stay_out_with_their_subtrees() {
        let windows = FsRules {
            case_insensitive: true,
            windows_names: true,
            ..FsRules::default()
        };
        let tree = RemoteTree::build_under(
            1,
            vec![
                node(2, 1, "..", NodeKind::Folder),
                node(3, 2, "escaped.txt", NodeKind::File),
                node(4, 1, "a:b.txt", NodeKind::File),
                node(5, 1, ".drive", NodeKind::Folder),
                node(6, 5, "x", NodeKind::File),
                node(7, 1, "ok", NodeKind::Folder),
                node(8, 7, "CON", NodeKind::File),
                node(9, 7, "fine.txt", NodeKind::File),
            ],
            windows,
        );
        let paths: Vec<&String> = tree.paths().map(|(p, _)| p).collect();
        assert_eq!(tree.len(), 2, "{paths:?}");
        assert!(tree.get("ok/fine.txt").is_some());
        for id in [2, 3, 4, 5, 6, 8] {
            assert!(tree.path_of(id).is_none(), "{id}");
        }
        let unmapped: Vec<&str> = tree.unmapped().iter().map(|u| u.path.as_str()).collect();
        assert_eq!(unmapped, vec!["..", ".drive", "a:b.txt", "ok/CON"]);
    }

    #[test]
    fn paths_too_long_for_the_device_stay_out_with_their_subtrees() {
        let rules = FsRules {
            max_path: 11,
            ..FsRules::default()
        };
        let tree = RemoteTree::build_under(
            1,
            vec![
                node(2, 1, "short", NodeKind::Folder),
                node(3, 2, "a.txt", NodeKind::File),
                node(4, 2, "longer.txt", NodeKind::File),
                node(5, 2, "deeper", NodeKind::Folder),
                node(6, 5, "x", NodeKind::File),
            ],
            rules,
        );
        let paths: Vec<&String> = tree.paths().map(|(p, _)| p).collect();
        assert_eq!(tree.len(), 2, "{paths:?}");
        assert!(tree.get("short/a.txt").is_some());
        for id in [4, 5, 6] {
            assert!(tree.path_of(id).is_none(), "{id}");
        }
        let unmapped: Vec<(&str, &Unsyncable)> = tree.unmapped().iter().map(|u| (u.path.as_str(), &u.why)).collect();
        assert_eq!(
            unmapped,
            vec![
                ("short/deeper", &Unsyncable::PathTooLong(11)),
                ("short/longer.txt", &Unsyncable::PathTooLong(11))
            ]
        );
    }

    #[test]
    fn case_collisions_get_a_stable_alias() {
        let rules = FsRules {
            case_insensitive: true,
            windows_names: false,
            ..FsRules::default()
        };
        let nodes = vec![
            node(2, 1, "Docs", NodeKind::Folder),
            node(3, 1, "docs", NodeKind::Folder),
            node(4, 3, "Report.txt", NodeKind::File),
            node(5, 3, "report.txt", NodeKind::File),
        ];
        let known = HashMap::new();
        let view = LocalView {
            rules,
            ignore: None,
            excluded: None,
            known: &known,
        };
        let tree = RemoteTree::build_for(1, nodes.clone(), &view);
        assert_eq!(tree.path_of(2), Some("Docs"));
        assert_eq!(tree.path_of(3), Some("docs (case conflict)"));
        assert_eq!(tree.path_of(4), Some("docs (case conflict)/Report.txt"));
        assert_eq!(tree.path_of(5), Some("docs (case conflict)/report (case conflict).txt"));
        assert_eq!(
            tree.remote_name("docs (case conflict)/report (case conflict).txt"),
            "report.txt"
        );
        // The ledger's holder of a name keeps it, whatever the ids.
        let known: HashMap<NodeId, String> = [(3, "docs".to_owned()), (2, "Docs (case conflict)".to_owned())].into();
        let view = LocalView {
            rules,
            ignore: None,
            excluded: None,
            known: &known,
        };
        let tree = RemoteTree::build_for(1, nodes, &view);
        assert_eq!(tree.path_of(3), Some("docs"));
        assert_eq!(tree.path_of(2), Some("Docs (case conflict)"));
    }

    #[test]
    fn within_means_a_path_prefix_not_a_string_prefix() {
        assert!(is_within("a/b", "a"));
        assert!(is_within("a", "a"));
        assert!(!is_within("ab", "a"));
        assert_eq!(file_name("a/b/c.txt"), "c.txt");
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), vec!["a/b", "a"]);
        assert_eq!(ancestors("a").count(), 0);
    }

    #[test]
    fn read_only_reaches_new_items_and_the_way_out_is_the_share_folder() {
        let mut mount = node(2, 1, "Shared", NodeKind::Folder);
        mount.read_only = true;
        mount.share_id = Some(7);
        let mut docs = node(3, 2, "docs", NodeKind::Folder);
        docs.read_only = true;
        let tree = RemoteTree::build(1, vec![mount, docs, node(4, 1, "mine", NodeKind::Folder)]);
        assert!(tree.read_only("Shared"));
        assert!(tree.read_only("Shared/docs/new/deeper.txt"));
        assert!(!tree.read_only("mine/new.txt"));
        assert!(!tree.read_only("new.txt"));
        assert!(tree.is_share_root("Shared") && !tree.is_share_root("Shared/docs"));
        assert_eq!(tree.outside_share("Shared/docs/new/deeper.txt"), "");
        assert_eq!(tree.outside_share("Shared"), "");
        assert_eq!(tree.outside_share("mine/x"), "");
    }
}
