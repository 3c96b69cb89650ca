//! One pass's decisions: scan the folder, see the remote tree as this
//! device can hold it, plan, and apply the mass-delete guard and selective
//! sync to the plan.

use super::*;

/// What one pass decides from, and what it decided.
pub(super) struct Pass {
    pub(super) items: HashMap<String, LocalItem>,
    pub(super) skipped: Vec<PathError>,
    pub(super) changing: Vec<String>,
    pub(super) ledger: HashMap<String, Entry>,
    pub(super) tree: RemoteTree,
    pub(super) ops: Vec<Op>,
    pub(super) held: Option<Held>,
    /// Excluded folders to remove from this device now.
    pub(super) ready: Vec<String>,
    pub(super) kept: Vec<PathError>,
}

impl Engine {
    /// The remote tree as this device sees it: names it cannot hold and
    /// items it ignores left out, case collisions aliased.
    async fn remote_tree(
        &self,
        ledger: &HashMap<String, Entry>,
        ignore: &IgnoreRules,
        excluded: &Exclusions,
    ) -> Result<RemoteTree> {
        let (root_id, nodes) = self
            .with_ledger(|l| {
                let root_id = l.meta("root_id")?.and_then(|v| v.parse().ok()).unwrap_or_default();
                Ok((root_id, l.remote_nodes()?))
            })
            .await?;
        let known: HashMap<NodeId, String> = ledger.iter().map(|(path, e)| (e.node_id, path.clone())).collect();
        let view = LocalView {
            rules: self.rules,
            ignore: Some(ignore),
            excluded: Some(excluded),
            known: &known,
        };
        Ok(RemoteTree::build_for(root_id, nodes, &view))
    }

    async fn scan(&self) -> Result<(Scan, HashMap<String, Entry>)> {
        let entries = self.with_ledger(|l| l.entries()).await?;
        let root = self.root.clone();
        let scan = offload(&self.fs, move |fs| {
            scanner::scan(fs, &root, &entries).map(|scan| (scan, entries))
        })
        .await;
        Ok(scan.map_err(io_err(format!("reading the folder {}", self.root.display())))?)
    }

    /// Pulls remote changes, scans, and plans one pass.
    pub(super) async fn plan_pass(&self) -> Result<Pass> {
        // A choice applies to what the user was shown: the deletions the
        // last pass held, no others.
        let choice = self.decisions.take();
        let shown = match choice {
            Some(_) => self.last_report().await?.and_then(|report| report.held),
            None => None,
        };
        let confirmed = match (choice, shown) {
            (Some(Choice::Keep), Some(held)) => {
                self.keep_held(held).await?;
                Vec::new()
            }
            (Some(Choice::Delete), Some(held)) => held.paths,
            _ => Vec::new(),
        };
        self.pull(Duration::ZERO).await?;
        let (mut scan, mut ledger) = self.scan().await?;
        let ignore = Arc::new(std::mem::replace(&mut scan.ignore, IgnoreRules::new(&self.root)));
        *self.ignore.lock().unwrap_or_else(|p| p.into_inner()) = ignore.clone();
        // Ignored is not deleted: a synced path that became ignored is
        // forgotten, and left alone on both sides. So is a path that no
        // longer passes the name rule (from a ledger older than the rule).
        let forgotten: Vec<String> = ledger
            .iter()
            .filter(|(path, entry)| {
                ignore.is_ignored(path, entry.kind == NodeKind::Folder) || !self.rules.holds_path(path)
            })
            .map(|(path, _)| path.clone())
            .collect();
        if !forgotten.is_empty() {
            tracing::info!(count = forgotten.len(), "forgetting paths that are now ignored");
            let gone: Subtrees = forgotten.iter().cloned().collect();
            ledger.retain(|path, _| !gone.covers(path));
            self.with_ledger(move |l| forgotten.iter().try_for_each(|path| l.remove_tree(path)))
                .await?;
        }
        // Excluded folders (selective sync): the ones that have left this
        // device are out of view on both sides; what is put there locally
        // is left alone and reported.
        let stages = Stages::of(&self.with_ledger(|l| Exclusions::load(l)).await?, &ledger);
        let mut strays = std::collections::BTreeSet::new();
        if !stages.left.is_empty() {
            let mut out = |path: &str| match stages.left.covering(path) {
                Some(excluded) => {
                    strays.insert(excluded.to_owned());
                    false
                }
                None => true,
            };
            scan.items.retain(|path, _| out(path));
            scan.skipped.retain(|skipped| out(&skipped.path));
            scan.changing.retain(|path| out(path));
        }
        let tree = self.remote_tree(&ledger, &ignore, &stages.left).await?;
        scan.adopt_known_case(&self.root, &tree, &ledger, self.rules);
        *self.disk_paths.lock().unwrap_or_else(|p| p.into_inner()) = std::mem::take(&mut scan.disk_paths);
        let mut left_alone: HashSet<String> = scan.skipped.iter().map(|s| s.path.clone()).collect();
        left_alone.extend(scan.changing.iter().cloned());
        // A synced item the server renamed to a name this device cannot
        // hold (or ignores) has left this device's view, as if deleted
        // there: here it goes to the local trash if unchanged, and is sent
        // as a new item if it changed. It stays on the server either way.
        let ops = planner::plan(&planner::Inputs {
            local: &scan.items,
            skipped: &left_alone,
            ledger: &ledger,
            remote: &tree,
        });
        let (ops, held) = self.guard.check(stages.drain(ops), &ledger, &confirmed);
        let (ready, mut kept) = stages.ready(&ops, left_alone.iter().map(String::as_str));
        kept.extend(strays.into_iter().map(|path| PathError {
            path,
            message: "excluded from sync on this device: what is in this folder here is not synced".into(),
        }));
        if let Some(held) = &held {
            tracing::warn!(
                files = held.files,
                of = held.of,
                "deletions on the server held until confirmed"
            );
        }
        let skipped = scan
            .skipped
            .iter()
            .map(|s| PathError {
                path: s.path.clone(),
                message: s.reason.clone(),
            })
            .collect();
        Ok(Pass {
            items: scan.items,
            skipped,
            changing: scan.changing,
            ledger,
            tree,
            ops,
            held,
            ready,
            kept,
        })
    }

    /// The user chose to keep the files whose deletion was held: what the
    /// last pass held is forgotten as synced, so that it downloads again.
    async fn keep_held(&self, held: Held) -> Result<()> {
        tracing::info!(files = held.files, "restoring the files whose deletion was held");
        self.with_ledger(move |l| held.paths.iter().try_for_each(|path| l.remove_tree(path)))
            .await
    }

    /// Plans without doing anything: what a pass would do now, with what
    /// it leaves out and holds back (as in a [`Report`]).
    pub async fn pending(&self) -> Result<(Vec<Op>, Report)> {
        let pass = self.plan_pass().await?;
        let report = Self::report_of(&pass);
        Ok((pass.ops, report))
    }

    pub(super) fn report_of(pass: &Pass) -> Report {
        let changing = pass.changing.iter().cloned();
        Report {
            pending: pass.ops.iter().map(|op| op.path().to_owned()).chain(changing).collect(),
            skipped: pass.skipped.clone(),
            unsyncable: pass
                .tree
                .unmapped()
                .iter()
                .map(|u| PathError {
                    path: u.path.clone(),
                    message: u.why.to_string(),
                })
                .collect(),
            held: pass.held.clone(),
            kept: pass.kept.clone(),
            ..Report::default()
        }
    }
}
