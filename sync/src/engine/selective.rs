//! Selective sync on a running engine: which folders this device leaves on
//! the server, and their removal from this device once everything in them
//! is there (the stages are in [`crate::selective`]).

use super::*;

impl Engine {
    /// The paths excluded from sync on this device.
    pub async fn excluded(&self) -> Result<Vec<String>> {
        let exclusions = self.with_ledger(|l| Exclusions::load(l)).await?;
        Ok(exclusions.paths().map(str::to_owned).collect())
    }

    /// Excludes the folder (or file) at `path`, relative to the synced
    /// folder, from sync on this device; the next pass sends what in it the
    /// server lacks, then removes it here. Returns the path as stored, or
    /// `None` if it already was excluded.
    pub async fn exclude(&self, path: &str) -> Result<Option<String>> {
        let path = path.to_owned();
        let excluded = self
            .with_ledger(move |l| Ok(Exclusions::exclude_in(l, &path)))
            .await??;
        if let Some(path) = &excluded {
            tracing::info!(%path, "excluded from sync on this device");
            self.nudge.nudge();
        }
        Ok(excluded)
    }

    /// Syncs `path` (and whatever was excluded under it) on this device
    /// again: the next pass downloads it. Returns whether anything changed.
    pub async fn include(&self, path: &str) -> Result<bool> {
        let path = path.to_owned();
        let changed = self
            .with_ledger(move |l| Ok(Exclusions::include_in(l, &path)))
            .await??;
        if changed {
            self.nudge.nudge();
        }
        Ok(changed)
    }

    /// Removes the excluded folders a pass found ready (nothing left to send
    /// from them) and forgets what is gone.
    pub(super) async fn remove_excluded_folders(
        &self,
        ready: &[String],
        ledger: &HashMap<String, Entry>,
    ) -> Result<()> {
        let mut gone = Vec::new();
        for folder in ready {
            tracing::info!(%folder, "removing an excluded folder from this device: all of it is on the server");
            gone.extend(self.remove_excluded(folder, ledger));
        }
        self.with_ledger(move |l| gone.iter().try_for_each(|path| l.remove_tree(path)))
            .await
    }
}
