//! The sync service as apps use it, against a real `drive-server`: paused,
//! nothing moves; resumed, the file goes up and the monitor reports it;
//! an upload limit holds uploads to its rate.

use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use drive_e2e::{eventually, random_bytes, Server};
use drive_sync::{
    activity::{Monitor, Summary},
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

#[test]
fn pause_resume_activity_and_speed_limit() {
    // Tokens in a file in the temp home, never in the user's keyring.
    std::env::set_var("DRIVE_CREDENTIALS", "file");
    let server = Server::start().expect("drive-server");
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = Profile::open(home.path()).unwrap();
    runtime
        .block_on(profile.sign_in(&server.url(), "ann@example.com", "correct horse battery", "test", true))
        .expect("registering");
    let remote = profile.connect().unwrap();
    let monitor = Arc::new(Monitor::new());
    let service = {
        let _guard = runtime.enter();
        SyncService::start(ServiceConfig {
            root: folder.path().to_path_buf(),
            ledger: profile.ledger_for(folder.path()).unwrap(),
            remote: remote.clone(),
            monitor: monitor.clone(),
            paused: true,
            rescan: Duration::from_secs(1),
        })
    };
    assert!(service.is_paused());
    assert!(eventually(Duration::from_secs(10), || monitor.status().summary == Summary::Paused));

    std::fs::write(folder.path().join("a.txt"), "while paused").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(!on_server(&runtime, &remote, "/a.txt"), "a paused service uploaded");
    assert_eq!(monitor.status().summary, Summary::Paused);

    service.set_paused(false);
    assert!(
        eventually(Duration::from_secs(20), || on_server(&runtime, &remote, "/a.txt")),
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
        eventually(Duration::from_secs(30), || on_server(&runtime, &remote, "/big.bin")),
        "not uploaded under the limit"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800),
        "the limit did not hold: {elapsed:?}"
    );

    runtime.block_on(service.stop());
}
