//! A running engine, against a real `drive-server`, tells its caller how
//! much of the folder it watches, and syncs a file written in a folder made
//! after it started without waiting for a rescan.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use drive_e2e::{eventually, Server};
use drive_sync::{
    engine::Engine,
    profile::Profile,
    progress::{Progress, RunState},
    remote::{Remote, RemoteError},
    watcher::Coverage,
};

/// Generous: the test waits for things to happen, never for time to pass.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Recorder {
    coverage: Mutex<Vec<Coverage>>,
    up_to_date: Mutex<usize>,
}

impl Progress for Recorder {
    fn watching(&self, coverage: &Coverage) {
        self.coverage.lock().unwrap().push(coverage.clone());
    }

    fn state(&self, state: &RunState) {
        if *state == RunState::UpToDate {
            *self.up_to_date.lock().unwrap() += 1;
        }
    }
}

impl Recorder {
    fn last_coverage(&self) -> Option<Coverage> {
        self.coverage.lock().unwrap().last().cloned()
    }
}

fn on_server(runtime: &tokio::runtime::Runtime, remote: &Remote, path: &str) -> bool {
    match runtime.block_on(remote.lookup(path)) {
        Ok(_) => true,
        Err(RemoteError::NotFound) => false,
        Err(error) => panic!("looking up {path}: {error}"),
    }
}

#[test]
fn the_engine_tells_what_it_watches_and_syncs_a_new_folder_without_a_rescan() {
    // Tokens in a file in the temp home, never in the user's keyring.
    std::env::set_var("DRIVE_CREDENTIALS", "file");
    let server = Server::start().expect("drive-server");
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let root: &Path = folder.path();
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::write(root.join("a/b/c/first.txt"), "first").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = Profile::open(home.path()).unwrap();
    runtime
        .block_on(profile.sign_in(&server.url(), "ann@example.com", drive_e2e::PASSWORD, "test", true))
        .expect("registering");
    let remote = profile.connect().unwrap();
    let ledger = profile.ledger_for(root).unwrap();
    let recorder = Arc::new(Recorder::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // On a thread of its own, as the sync service runs it. No rescan during
    // the test: only the watcher can start the pass that sends the new file.
    let running = std::thread::spawn({
        let (root, remote, progress) = (root.to_owned(), remote.clone(), recorder.clone());
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let engine = Engine::open(&root, &ledger, remote, progress).await.expect("engine");
                engine
                    .run(Duration::from_secs(3600), async {
                        let _ = stopped.await;
                    })
                    .await
                    .map_err(|error| error.to_string())
            })
        }
    });

    assert!(eventually(PATIENCE, || *recorder.up_to_date.lock().unwrap() > 0));
    assert!(on_server(&runtime, &remote, "a/b/c/first.txt"));
    let coverage = recorder.last_coverage().expect("the coverage is told");
    assert!(coverage.complete(), "{coverage:?}");
    assert_eq!(coverage.advice(), None);
    if cfg!(target_os = "linux") {
        // The folder, a, a/b and a/b/c; not the state dir.
        assert_eq!((coverage.folders, coverage.watched), (4, 4), "{coverage:?}");
    }

    std::fs::create_dir_all(root.join("new/deeper")).unwrap();
    std::fs::write(root.join("new/deeper/second.txt"), "second").unwrap();
    assert!(
        eventually(PATIENCE, || on_server(&runtime, &remote, "new/deeper/second.txt")),
        "the file in the new folder is synced"
    );
    if cfg!(target_os = "linux") {
        assert!(eventually(PATIENCE, || recorder
            .last_coverage()
            .is_some_and(|coverage| coverage.folders == 6 && coverage.complete())));
    }

    let _ = stop.send(());
    running.join().unwrap().expect("the engine stops cleanly");
}
