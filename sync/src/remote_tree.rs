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
    }
}
