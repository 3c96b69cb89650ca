//! Read-only views of the simulated server's state: the changes feed, and
//! the tree and contents the simulation's invariants check.

use std::collections::{BTreeMap, HashSet};

use drive_wire::{Change, ChangesPage, NodeKind, RevisionId};

use super::{to_datetime, NodeRec, State, PAGE, SERVER_ID};

impl State {
    /// backend/src/changes.rs `read_page`: at most [`PAGE`] changes after
    /// `since`, each with its node as it is now (trashed ones included, with
    /// `trashed_at`). With none, the cursor is `since`, or the newest seq if
    /// `since` is beyond it (the feed went backwards).
    pub fn changes(&self, since: i64) -> ChangesPage {
        let start = self.journal.partition_point(|entry| entry.seq <= since);
        let rest = &self.journal[start..];
        let changes: Vec<Change> = rest
            .iter()
            .take(PAGE)
            .map(|entry| Change {
                seq: entry.seq,
                kind: entry.kind,
                node_id: entry.node,
                node: self.nodes.get(&entry.node).map(Self::present),
                at: to_datetime(entry.at_ms),
            })
            .collect();
        let cursor = changes.last().map_or_else(|| since.min(self.head()), |last| last.seq);
        ChangesPage {
            changes,
            cursor,
            has_more: rest.len() > PAGE,
            server_id: SERVER_ID.to_owned(),
        }
    }

    /// The content of a revision: its blocks put together.
    fn content(&self, revision: RevisionId) -> Vec<u8> {
        let Some(rec) = self.revisions.get(&revision) else {
            return Vec::new();
        };
        rec.blocks
            .iter()
            .filter_map(|hash| self.blocks.get(hash))
            .flatten()
            .copied()
            .collect()
    }

    /// The live node at `names` from the root, if there is one.
    pub fn lookup(&self, names: &[String]) -> Option<&NodeRec> {
        let mut at = self.nodes.get(&self.root)?;
        for name in names {
            if at.kind != NodeKind::Folder {
                return None;
            }
            at = self.live_child(at.id, name)?;
        }
        Some(at)
    }

    /// The live tree by `/`-path from the root: folders as `None`, files as
    /// their current content.
    pub fn tree(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut tree = BTreeMap::new();
        let mut pending = vec![(self.root, String::new())];
        while let Some((folder, prefix)) = pending.pop() {
            for child in self.live_children(folder) {
                let path = format!("{prefix}{}", child.name);
                match child.kind {
                    NodeKind::Folder => {
                        pending.push((child.id, format!("{path}/")));
                        tree.insert(path, None);
                    }
                    NodeKind::File => {
                        tree.insert(
                            path,
                            Some(child.revision.map(|rev| self.content(rev)).unwrap_or_default()),
                        );
                    }
                }
            }
        }
        tree
    }

    /// The content of every revision ever committed, trashed files' too.
    pub fn all_contents(&self) -> HashSet<Vec<u8>> {
        self.revisions.keys().map(|&rev| self.content(rev)).collect()
    }
}
