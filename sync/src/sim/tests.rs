//! The simulation as a test: a budget of seeds in CI, more on demand.
//!
//! - `DRIVE_SIM_SEEDS=N` runs N seeds (a soak), from `DRIVE_SIM_FIRST` (0).
//! - `DRIVE_SIM_SEED=S` replays seed S alone, with its whole log.

use super::run::Sim;

/// Seeds run by default: about a minute of a debug build on CI's machine.
const DEFAULT_SEEDS: u64 = 600;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs one seed; on failure, the seed, how to replay it and what happened.
fn run_seed(seed: u64, whole_log: bool) -> Result<Vec<String>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut sim = Sim::new(seed);
    let outcome = runtime.block_on(sim.run());
    match outcome {
        Ok(()) => Ok(sim.log),
        Err(error) => {
            let shown = if whole_log { 0 } else { sim.log.len().saturating_sub(40) };
            Err(format!(
                "seed {seed} failed: {error}\nreplay it with: DRIVE_SIM_SEED={seed} cargo test -p drive-sync --lib sim:: \
                 (DRIVE_SIM_LOG=debug for the engine's log)\nwhat happened{}:\n  {}\n{}",
                if shown > 0 { " (the end)" } else { "" },
                sim.log[shown..].join("\n  "),
                sim.trees()
            ))
        }
    }
}

#[test]
fn devices_and_the_web_converge_without_losing_anything() {
    if let Ok(level) = std::env::var("DRIVE_SIM_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(format!("drive_sync={level}"))
            .with_test_writer()
            .try_init();
    }
    if let Some(seed) = env_u64("DRIVE_SIM_SEED") {
        if let Err(report) = run_seed(seed, true) {
            panic!("{report}");
        }
        return;
    }
    let first = env_u64("DRIVE_SIM_FIRST").unwrap_or(0);
    let count = env_u64("DRIVE_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let failures: Vec<String> = (first..first + count)
        .filter_map(|seed| run_seed(seed, false).err())
        .take(3)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_seed_replays_exactly() {
    let first = run_seed(7, false);
    let again = run_seed(7, false);
    assert_eq!(first, again);
}
