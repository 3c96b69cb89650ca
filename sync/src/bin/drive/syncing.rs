//! `drive sync`, `drive status` and `drive unlink`: the engine on a
//! terminal, and exit codes that tell how a sync ended.

use std::{io::IsTerminal, path::PathBuf, sync::Arc, time::Duration};

use drive_sync::{
    engine::{Engine, Report},
    guard::DeleteGuard,
    progress::{Direction, Progress},
};

use crate::{profile, shutdown_signal};

/// Draws progress (files, bytes, rate) on a terminal; silent otherwise.
struct Bars {
    bar: indicatif::ProgressBar,
    bytes: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl Bars {
    fn new() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            bytes: Default::default(),
            started: std::time::Instant::now(),
        }
    }
}

impl Progress for Bars {
    fn planned(&self, ops: &[drive_sync::planner::Op]) {
        self.bar.set_length(ops.len() as u64);
        self.bar.set_position(0);
    }

    fn finished(&self, _op: &drive_sync::planner::Op, _error: Option<&str>) {
        self.bar.inc(1);
    }

    fn bytes(&self, _direction: Direction, bytes: u64) {
        let total = self.bytes.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed) + bytes;
        let rate = total as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!(
            "{} moved, {}/s",
            indicatif::HumanBytes(total),
            indicatif::HumanBytes(rate as u64)
        ));
    }
}

/// How `drive sync --once` and `drive status` end when not everything is
/// in sync: the message, and the exit status that tells why.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Unfinished {
    pub(crate) code: u8,
    message: String,
}

const EXIT_PENDING: u8 = 3;

const EXIT_HELD: u8 = 4;

const EXIT_LEFT_OUT: u8 = 5;

fn outcome(dir: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    let (code, message) = if let Some(held) = &report.held {
        let confirm = format!("drive sync {} --once --confirm-deletions", dir.display());
        let message = format!("deletions held: {held}; run `{confirm}` to send them, or restore the files");
        (EXIT_HELD, message)
    } else if !report.in_sync() {
        let count = report.pending.len().max(report.errors.len());
        (EXIT_PENDING, format!("{count} paths are not in sync yet"))
    } else if !report.complete() {
        let count = report.skipped.len() + report.unsyncable.len() + report.kept.len();
        (EXIT_LEFT_OUT, format!("in sync, but {count} items were left out"))
    } else {
        return Ok(());
    };
    Err(Unfinished { code, message }.into())
}

/// What a report leaves out or holds back, in words, one line each.
fn report_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(held) = &report.held {
        lines.push(format!("deletions held: {held}"));
        lines.extend(held.paths.iter().map(|path| format!("  held: {path}")));
    }
    for error in &report.errors {
        lines.push(format!("not synced: {}: {}", error.path, error.message));
    }
    for item in &report.unsyncable {
        lines.push(format!(
            "can't be synced on this device: {} ({})",
            item.path, item.message
        ));
    }
    for skipped in &report.skipped {
        lines.push(format!("skipped {}: {}", skipped.path, skipped.message));
    }
    for kept in &report.kept {
        lines.push(format!("{}: {}", kept.path, kept.message));
    }
    lines
}

pub(crate) async fn sync(
    dir: PathBuf,
    once: bool,
    rescan: u64,
    confirm_deletions: bool,
    max_files: usize,
) -> anyhow::Result<()> {
    let profile = profile()?;
    let remote = profile.connect()?;
    let ledger = profile.ledger_for(&dir)?;
    let mut engine = Engine::open(&dir, &ledger, remote, Arc::new(Bars::new()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    engine.set_delete_guard(DeleteGuard {
        max_files,
        ..DeleteGuard::default()
    });
    if confirm_deletions {
        engine.confirm_deletions();
    }
    if once {
        let report = engine.sync_once().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        for line in report_lines(&report) {
            eprintln!("{line}");
        }
        if report.in_sync() {
            eprintln!("Up to date ({} operations)", report.done);
        }
        return outcome(&dir, &report);
    }
    eprintln!("Syncing {} (Ctrl-C to stop)", engine.root().display());
    engine
        .run(Duration::from_secs(rescan), shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("Stopped");
    Ok(())
}

pub(crate) async fn status(dir: PathBuf) -> anyhow::Result<()> {
    let profile = profile()?;
    let remote = profile.connect()?;
    let ledger = profile.ledger_for(&dir)?;
    let engine = Engine::observe(&dir, &ledger, remote)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, mut report) = engine.pending().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let last = engine
        .last_report()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .unwrap_or_default();
    // What failed last time and is still planned.
    report.errors = last
        .errors
        .into_iter()
        .filter(|error| report.pending.contains(&error.path))
        .collect();
    if report.in_sync() {
        println!("up to date");
    } else if !report.pending.is_empty() {
        println!("{} pending", report.pending.len());
        for path in &report.pending {
            println!("  {path}");
        }
    }
    for line in report_lines(&report) {
        println!("{line}");
    }
    outcome(&dir, &report)
}

pub(crate) async fn unlink(dir: PathBuf) -> anyhow::Result<()> {
    profile()?.unlink(&dir)?;
    eprintln!(
        "{} is no longer linked; its next sync compares it with the server and deletes nothing",
        dir.display()
    );
    Ok(())
}
