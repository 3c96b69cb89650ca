//! Crashes and outages: a client killed mid-upload, a server restarted
//! mid-sync, large files and many files.

use std::time::Duration;

use drive_e2e::{eventually, random_bytes, write, Client, Server};

const MIB: usize = 1024 * 1024;

#[test]
fn a_client_killed_mid_upload_resumes_without_resending_stored_blocks() {
    let server = Server::start().expect("server");
    let mut a = Client::register(&server, "kill@example.com").unwrap();
    let content = random_bytes(7, 200 * MIB);
    write(&a.path("big.bin"), &content);
    a.start_sync().unwrap();
    let started = eventually(Duration::from_secs(120), || {
        server.metric("drive_block_bytes_received_total") >= (40 * MIB) as f64
    });
    assert!(started, "the upload never got going");
    a.kill_sync();
    let before_restart = server.metric("drive_block_bytes_received_total");
    assert!(
        before_restart < (200 * MIB) as f64,
        "killed too late to test resumption"
    );

    a.sync().expect("the restarted client finishes the upload");
    let total = server.metric("drive_block_bytes_received_total");
    let resent = total - (200 * MIB) as f64;
    eprintln!(
        "killed after {:.1} MiB; total received {:.1} MiB; re-sent {:.1} MiB",
        before_restart / MIB as f64,
        total / MIB as f64,
        resent / MIB as f64
    );
    // Bytes are counted as they arrive, torn uploads included: at most the
    // blocks in flight at the kill (4 blocks of at most 4 MiB) travel twice.
    assert!(resent <= (16 * MIB) as f64, "re-sent {resent} bytes");

    let b = Client::login(&server, "kill@example.com").unwrap();
    b.sync().unwrap();
    assert_eq!(
        std::fs::read(b.path("big.bin")).unwrap(),
        content,
        "the file arrives whole"
    );
}

#[test]
fn a_server_restarted_mid_sync_is_retried_until_converged() {
    let mut server = Server::start().expect("server");
    let mut a = Client::register(&server, "restart@example.com").unwrap();
    for i in 0..50 {
        write(&a.path(&format!("batch/file-{i:03}.bin")), &random_bytes(i, 256 * 1024));
    }
    a.start_sync().unwrap();
    assert!(eventually(Duration::from_secs(60), || server
        .metric("drive_commits_total")
        >= 5.0));
    server.restart().expect("server restarts");
    let b = Client::login(&server, "restart@example.com").unwrap();
    assert!(
        eventually(Duration::from_secs(90), || {
            b.sync().is_ok() && b.tree().keys().filter(|k| k.starts_with("batch/")).count() == 50
        }),
        "the client converged after the restart"
    );
    a.stop_sync().unwrap();
    a.sync().unwrap();
    assert_eq!(a.tree(), b.tree());
}

#[test]
fn a_200_mib_file_and_2000_small_files_converge() {
    let server = Server::start().expect("server");
    let a = Client::register(&server, "bulk@example.com").unwrap();
    let b = Client::login(&server, "bulk@example.com").unwrap();
    write(&a.path("video.bin"), &random_bytes(9, 200 * MIB));
    for i in 0..2000u64 {
        write(
            &b.path(&format!("many/{:02}/{i:04}.txt", i % 20)),
            format!("file {i}\n").as_bytes(),
        );
    }
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(a.tree(), b.tree());
    assert_eq!(a.tree().keys().filter(|k| k.ends_with(".txt")).count(), 2000);
}
