//! The remote tree by path, rebuilt from the ledger's mirror of the changes feed.

use std::collections::HashMap;

use drive_wire::NodeId;

use crate::ledger::RemoteNode;

#[derive(Debug, Default, Clone)]
pub struct RemoteTree {
    pub root_id: NodeId,
    by_path: HashMap<String, RemoteNode>,
    path_of: HashMap<NodeId, String>,
}

impl RemoteTree {
    /// Only nodes reachable from the root count: the children of a trashed
    /// folder linger in the mirror but are not in the tree.
    pub fn build(root_id: NodeId, nodes: Vec<RemoteNode>) -> Self {
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
        let mut stack = vec![(root_id, String::new())];
        while let Some((id, prefix)) = stack.pop() {
            for child in children.remove(&id).unwrap_or_default() {
                let path = if prefix.is_empty() {
                    child.name.clone()
                } else {
                    format!("{prefix}/{}", child.name)
                };
                stack.push((child.id, path.clone()));
                tree.path_of.insert(child.id, path.clone());
                tree.by_path.insert(path, child);
            }
        }
        tree
    }

    pub fn get(&self, path: &str) -> Option<&RemoteNode> {
        self.by_path.get(path)
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
