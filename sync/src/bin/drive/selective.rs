//! `drive exclude`, `drive include` and `drive excluded`: selective sync.
//! They change the folder's ledger; a sync running on the folder applies the
//! change at its next pass.

use std::path::{Path, PathBuf};

use anyhow::Context;

use drive_sync::{ledger::Ledger, selective::Exclusions};

use crate::profile;

/// The ledger of the synced folder that holds `path`, and `path` in it.
fn ledger_of(path: &Path) -> anyhow::Result<(Ledger, PathBuf, String)> {
    let profile = profile()?;
    let (root, relative) = profile.locate(path)?;
    let ledger = Ledger::open(&profile.ledger_for(&root)?).context("opening the folder's sync state")?;
    Ok((ledger, root, relative))
}

pub(crate) fn exclude(path: PathBuf) -> anyhow::Result<()> {
    let (ledger, root, relative) = ledger_of(&path)?;
    match Exclusions::exclude_in(&ledger, &relative)? {
        Some(excluded) => {
            eprintln!(
                "{excluded} is excluded from sync in {}: it stays on the server, and is removed from this device \
                 at the next sync once everything in it is on the server",
                root.display()
            );
        }
        None => eprintln!("{relative} was already excluded"),
    }
    Ok(())
}

pub(crate) fn include(path: PathBuf) -> anyhow::Result<()> {
    let (ledger, _, relative) = ledger_of(&path)?;
    if Exclusions::include_in(&ledger, &relative)? {
        eprintln!("{relative} syncs on this device again: the next sync downloads it");
    } else {
        eprintln!("{relative} was not excluded");
    }
    Ok(())
}

pub(crate) fn list(dir: PathBuf) -> anyhow::Result<()> {
    let (ledger, _, _) = ledger_of(&dir)?;
    for path in Exclusions::load(&ledger)?.paths() {
        println!("{path}");
    }
    Ok(())
}
