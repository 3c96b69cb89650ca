//! Selective sync with the `drive` CLI and a real server: an excluded folder
//! stays on the server and leaves this device only once everything in it is
//! there; nothing absent from it is ever deleted on the server; including it
//! again brings it back.

use std::time::Duration;

use drive_e2e::{api::Api, eventually, write, Client, Server};

const EMAIL: &str = "ann@example.com";

fn server_paths(server: &Server) -> Vec<String> {
    Api::paths_of(server, EMAIL).expect("the server's tree")
}

fn drive_ok(client: &Client, args: &[&str]) -> String {
    let (code, out, err) = client.drive(args).expect("drive");
    assert_eq!(code, 0, "drive {args:?}: {out}{err}");
    format!("{out}{err}")
}

#[test]
fn an_excluded_folder_leaves_this_device_and_stays_on_the_server() {
    let server = Server::start().expect("server");
    let a = Client::register(&server, EMAIL).expect("register");
    let b = Client::login(&server, EMAIL).expect("login");
    write(&a.path("Photos/2019/beach.jpg"), b"sand");
    write(&a.path("Photos/cat.jpg"), b"meow");
    write(&a.path("Docs/plan.txt"), b"plan");
    a.sync().unwrap();

    let photos = a.path("Photos");
    let said = drive_ok(&a, &["exclude", photos.to_str().unwrap()]);
    assert!(said.contains("Photos is excluded"), "{said}");
    let listed = drive_ok(&a, &["excluded", a.dir.path().to_str().unwrap()]);
    assert_eq!(listed.trim(), "Photos");
    // A user who also deleted a file there: absence in an excluded folder
    // is never a deletion on the server.
    std::fs::remove_file(a.path("Photos/cat.jpg")).unwrap();
    a.sync().unwrap();
    assert!(!photos.exists(), "removed from this device: {:?}", a.tree());
    assert!(a.path("Docs/plan.txt").is_file());
    let on_server = server_paths(&server);
    for kept in ["Photos/2019/beach.jpg", "Photos/cat.jpg", "Docs/plan.txt"] {
        assert!(on_server.contains(&kept.to_owned()), "{kept}: {on_server:?}");
    }

    // What another device adds there stays on the server only.
    b.sync().unwrap();
    write(&b.path("Photos/new.jpg"), b"new");
    b.sync().unwrap();
    a.sync().unwrap();
    assert!(!photos.exists(), "nothing downloaded into an excluded folder");
    assert!(a.status().unwrap().contains("up to date"));

    // A path inside it comes back only with it.
    let (code, _, err) = a.drive(&["include", a.path("Photos/2019").to_str().unwrap()]).unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("include Photos first"), "{err}");
    drive_ok(&a, &["include", photos.to_str().unwrap()]);
    a.sync().unwrap();
    assert_eq!(std::fs::read(a.path("Photos/2019/beach.jpg")).unwrap(), b"sand");
    assert_eq!(std::fs::read(a.path("Photos/cat.jpg")).unwrap(), b"meow");
    assert_eq!(std::fs::read(a.path("Photos/new.jpg")).unwrap(), b"new");
    server.check().unwrap();
}

#[test]
fn a_folder_with_changes_not_on_the_server_is_kept_until_they_are() {
    let server = Server::start().expect("server");
    let a = Client::register(&server, EMAIL).expect("register");
    write(&a.path("Work/report.txt"), b"v1");
    write(&a.path("Work/old.txt"), b"old");
    a.sync().unwrap();

    // Changed and new files are sent before the folder goes; a symlink
    // (never synced) keeps it here, and the user is told.
    write(&a.path("Work/report.txt"), b"v2, not sent yet");
    write(&a.path("Work/new.txt"), b"new here");
    std::os::unix::fs::symlink("/etc/hostname", a.path("Work/link")).unwrap();
    drive_ok(&a, &["exclude", a.path("Work").to_str().unwrap()]);
    let output = a.sync_once_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "in sync, something left out: {stderr}");
    assert!(
        stderr.contains("Work: excluded from sync, but kept on this device"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(a.path("Work/report.txt")).unwrap(), b"v2, not sent yet");
    assert!(a.path("Work/new.txt").is_file() && a.path("Work/old.txt").is_file());
    let api = Api::login(&server, EMAIL).unwrap();
    let tree = api.tree().unwrap();
    assert!(tree.contains_key("Work/new.txt"), "sent before leaving: {tree:?}");

    // Once only synced files are left, it goes, and the server has them all.
    std::fs::remove_file(a.path("Work/link")).unwrap();
    a.sync().unwrap();
    assert!(!a.path("Work").exists(), "{:?}", a.tree());
    let b = Client::login(&server, EMAIL).unwrap();
    b.sync().unwrap();
    assert_eq!(std::fs::read(b.path("Work/report.txt")).unwrap(), b"v2, not sent yet");
    assert_eq!(std::fs::read(b.path("Work/new.txt")).unwrap(), b"new here");
    assert_eq!(std::fs::read(b.path("Work/old.txt")).unwrap(), b"old");

    // Something put in the excluded folder here is left alone, and said.
    write(&a.path("Work/stray.txt"), b"stray");
    let output = a.sync_once_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("what is in this folder here is not synced"), "{stderr}");
    assert_eq!(std::fs::read(a.path("Work/stray.txt")).unwrap(), b"stray");
    assert!(!server_paths(&server).contains(&"Work/stray.txt".to_owned()));

    // Included again: the server's files come back beside the stray one,
    // which is then sent.
    drive_ok(&a, &["include", a.path("Work").to_str().unwrap()]);
    a.sync().unwrap();
    assert_eq!(std::fs::read(a.path("Work/old.txt")).unwrap(), b"old");
    assert!(server_paths(&server).contains(&"Work/stray.txt".to_owned()));
}

#[test]
fn a_running_sync_applies_an_exclusion_made_by_the_cli() {
    let server = Server::start().expect("server");
    let mut a = Client::register(&server, EMAIL).expect("register");
    write(&a.path("Big/one.bin"), b"one");
    write(&a.path("Small/two.txt"), b"two");
    a.sync().unwrap();
    a.start_sync().unwrap();
    drive_ok(&a, &["exclude", a.path("Big").to_str().unwrap()]);
    assert!(
        eventually(Duration::from_secs(30), || !a.path("Big").exists()),
        "the running sync removes the excluded folder at its next pass"
    );
    a.stop_sync().unwrap();
    assert!(a.path("Small/two.txt").is_file());
    assert!(server_paths(&server).contains(&"Big/one.bin".to_owned()));
}
