//! What must hold once the world has settled, and the report of a world
//! for a failing seed.

use std::collections::{BTreeMap, BTreeSet};

use super::run::{Sim, Tree};
use crate::{local_names::FsRules, scanner::STATE_DIR};

impl Sim {
    /// Every tree, for a failing seed's report.
    pub fn trees(&self) -> String {
        let show = |tree: &Tree| {
            tree.iter()
                .map(|(path, content)| match content {
                    Some(bytes) => format!(
                        "{path} = {}",
                        String::from_utf8_lossy(bytes).lines().next().unwrap_or_default()
                    ),
                    None => format!("{path}/"),
                })
                .collect::<Vec<_>>()
                .join("\n    ")
        };
        let mut out = format!("server:\n    {}", show(&self.world.tree()));
        for device in &self.devices {
            let tree = device.fs.snapshot(&device.root);
            out += &format!("\n{} ({:?}):\n    {}", device.name, device.mode, show(&tree));
            if let Ok(entries) = crate::ledger::Ledger::open(&device.ledger).and_then(|l| l.entries()) {
                let entries: BTreeMap<_, _> = entries.into_iter().map(|(path, e)| (path, e.node_id)).collect();
                out += &format!("\n  its ledger: {entries:?}");
            }
        }
        out
    }

    /// The invariants.
    pub(super) fn check(&self) -> Result<(), String> {
        let server = self.world.tree();
        let mut reachable: BTreeSet<Vec<u8>> = self.world.all_contents().into_iter().collect();
        for device in &self.devices {
            let escapes = device.fs.escapes();
            if !escapes.is_empty() {
                return Err(format!("{}: wrote outside the folder: {escapes:?}", device.name));
            }
            let everything = device.fs.snapshot(&device.root);
            reachable.extend(everything.values().flatten().cloned());
            // Converged: the device holds what the server holds, as far as
            // its file system can.
            let rules = FsRules {
                case_insensitive: device.mode.case_insensitive,
                windows_names: device.mode.windows_names,
                ..FsRules::default()
            };
            let synced: Tree = everything
                .into_iter()
                .filter(|(path, _)| path != STATE_DIR && !path.starts_with(&format!("{STATE_DIR}/")))
                .collect();
            let holdable: Tree = server
                .iter()
                .filter(|(path, _)| rules.holds_path(path))
                .map(|(path, content)| (path.clone(), content.clone()))
                .collect();
            let (mine, theirs) = (canonical(&synced, rules), canonical(&holdable, rules));
            if mine != theirs {
                let only_here: Vec<_> = mine.difference(&theirs).map(|(p, _)| p).collect();
                let only_there: Vec<_> = theirs.difference(&mine).map(|(p, _)| p).collect();
                return Err(format!(
                    "{} ({:?}) did not converge: only on the device {only_here:?}, only on the server {only_there:?}",
                    device.name, device.mode
                ));
            }
            // Nothing torn: every file holds something a user wrote.
            for (path, content) in &synced {
                if let Some(bytes) = content {
                    if !self.written.contains(bytes) {
                        return Err(format!("{}: {path} holds bytes no user wrote", device.name));
                    }
                }
            }
        }
        for (path, content) in &server {
            if content.as_ref().is_some_and(|bytes| !self.written.contains(bytes)) {
                return Err(format!("the server's {path} holds bytes no user wrote"));
            }
        }
        // Nothing lost: every content a user wrote is on the server (in a
        // revision, perhaps in the trash) or on a device (at a path, as a
        // conflicted copy, or in the local trash), unless the user deleted
        // it before any of that.
        let lost: Vec<String> = self
            .written
            .iter()
            .filter(|content| !reachable.contains(*content) && !self.discarded.contains(*content))
            .map(|content| String::from_utf8_lossy(&content[..content.len().min(40)]).into_owned())
            .collect();
        if !lost.is_empty() {
            return Err(format!("lost contents: {lost:?}"));
        }
        Ok(())
    }
}

/// A tree as a set of (path, content) with what a file system that folds
/// case makes of names: folded, and a case alias taken for its name.
fn canonical(tree: &Tree, rules: FsRules) -> BTreeSet<(String, Option<Vec<u8>>)> {
    tree.iter()
        .map(|(path, content)| {
            let path = path
                .split('/')
                .map(|name| unalias(&rules.fold(name)))
                .collect::<Vec<_>>()
                .join("/");
            (path, content.clone())
        })
        .collect()
}

/// `a (case conflict 2).txt` -> `a.txt`.
fn unalias(name: &str) -> String {
    let Some(start) = name.find(" (case conflict") else {
        return name.to_owned();
    };
    match name[start..].find(')') {
        Some(end) => format!("{}{}", &name[..start], &name[start + end + 1..]),
        None => name.to_owned(),
    }
}
