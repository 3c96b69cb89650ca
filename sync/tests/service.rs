//! The sync service as apps use it, against a real `drive-server`: paused,
//! nothing moves; resumed, the file goes up and the monitor reports it;
//! an upload limit holds uploads to its rate; an emptied folder's deletions
//! wait for the user's choice.

use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use drive_e2e::{eventually, random_bytes, Server};
use drive_sync::{
    activity::{Monitor, Summary},
    guard::Choice,
    profile::Profile,
    remote::{Remote, RemoteError},
    service::{ServiceConfig, SyncService},
    throttle::Limits,
};

fn on_server(runtime: &tokio::runtime::Runtime, remote: &Remote, path: &str) -> bool {
    match runtime.block_on(remote.lookup(path)) {
        Ok(_) => true,
        Err(RemoteError::NotFound) => false,
        Err(error) => panic!("looking up {path}: {error}"),
    }
}

/// A signed-in profile, a folder and a sync service over them, against a
/// server of their own.
struct Setup {
    _server: Server,
    _home: tempfile::TempDir,
    folder: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    remote: Remote,
    monitor: Arc<Monitor>,
}

impl Setup {
    fn new() -> Self {
        // Tokens in a file in the temp home, never in the user's keyring.
        std::env::set_var("DRIVE_CREDENTIALS", "file");
        let server = Server::start().expect("drive-server");
        let home = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let profile = Profile::open(home.path()).unwrap();
        runtime
            .block_on(profile.sign_in(&server.url(), "ann@example.com", drive_e2e::PASSWORD, "test", true))
            .expect("registering");
        Setup {
            remote: profile.connect().unwrap(),
            _server: server,
            _home: home,
            folder: tempfile::tempdir().unwrap(),
            runtime,
            monitor: Arc::new(Monitor::new()),
        }
    }

    fn start(&self, paused: bool) -> SyncService {
        let profile = Profile::open(self._home.path()).unwrap();
        let _guard = self.runtime.enter();
        SyncService::start(ServiceConfig {
            root: self.folder.path().to_path_buf(),
            ledger: profile.ledger_for(self.folder.path()).unwrap(),
            remote: self.remote.clone(),
            monitor: self.monitor.clone(),
            paused,
            rescan: Duration::from_secs(1),
        })
    }
}

#[test]
fn pause_resume_activity_and_speed_limit() {
    let setup = Setup::new();
    let (folder, runtime, remote, monitor) = (&setup.folder, &setup.runtime, &setup.remote, &setup.monitor);
    let service = setup.start(true);
    assert!(service.is_paused());
    assert!(eventually(Duration::from_secs(10), || monitor.status().summary == Summary::Paused));

    std::fs::write(folder.path().join("a.txt"), "while paused").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(!on_server(runtime, remote, "/a.txt"), "a paused service uploaded");
    assert_eq!(monitor.status().summary, Summary::Paused);

    service.set_paused(false);
    assert!(
        eventually(Duration::from_secs(20), || on_server(runtime, remote, "/a.txt")),
        "not uploaded after resuming"
    );
    assert!(eventually(Duration::from_secs(10), || monitor.status().summary
        == Summary::UpToDate));
    assert_eq!(monitor.recent_files(5), ["a.txt"]);
    assert_eq!(monitor.recent(1)[0].text, "Uploaded");

    // 100 KiB/s: after the first second's worth, 300 KiB take about two seconds.
    service.throttle().set(Limits {
        up_kib: NonZeroU32::new(100),
        down_kib: None,
    });
    let started = Instant::now();
    std::fs::write(folder.path().join("big.bin"), random_bytes(1, 300 * 1024)).unwrap();
    assert!(
        eventually(Duration::from_secs(30), || on_server(runtime, remote, "/big.bin")),
        "not uploaded under the limit"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800),
        "the limit did not hold: {elapsed:?}"
    );

    runtime.block_on(service.stop());
}

/// An emptied folder: the service holds the deletions and says so; "keep"
/// brings the files back, "delete" sends the deletions.
#[test]
fn held_deletions_wait_for_a_choice() {
    let setup = Setup::new();
    let (folder, runtime, remote, monitor) = (&setup.folder, &setup.runtime, &setup.remote, &setup.monitor);
    for name in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(folder.path().join(name), name).unwrap();
    }
    let service = setup.start(false);
    assert!(eventually(Duration::from_secs(20), || on_server(
        runtime, remote, "/c.txt"
    )));
    assert!(eventually(Duration::from_secs(10), || monitor.status().summary
        == Summary::UpToDate));

    let empty = || {
        for name in ["a.txt", "b.txt", "c.txt"] {
            std::fs::remove_file(folder.path().join(name)).unwrap();
        }
    };
    empty();
    let held = || {
        monitor
            .status()
            .held
            .is_some_and(|held| held.files == 3 && held.of == 3)
    };
    assert!(eventually(Duration::from_secs(20), held), "{:?}", monitor.status());
    assert_eq!(monitor.status().summary.label(), "3 deleted files wait for your choice");
    assert!(on_server(runtime, remote, "/a.txt"), "held, not sent");

    service.decide(Choice::Keep);
    assert!(
        eventually(Duration::from_secs(20), || folder.path().join("c.txt").is_file()),
        "kept: downloaded again"
    );
    assert_eq!(std::fs::read_to_string(folder.path().join("b.txt")).unwrap(), "b.txt");
    assert!(eventually(Duration::from_secs(10), || monitor.status().summary
        == Summary::UpToDate));

    empty();
    assert!(eventually(Duration::from_secs(20), held));
    service.decide(Choice::Delete);
    assert!(
        eventually(Duration::from_secs(20), || !on_server(runtime, remote, "/a.txt")),
        "confirmed: trashed on the server"
    );
    assert!(eventually(Duration::from_secs(10), || monitor.status().summary
        == Summary::UpToDate));
    runtime.block_on(service.stop());
}
