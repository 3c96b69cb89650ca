//! Nothing lost, nothing written outside the folder: the ways a sync client
//! can destroy data (an ignore pattern, an emptied folder, another account,
//! hostile names, a case-insensitive disk, names this device ignores, the
//! state dir's own name), each with two clients and a real server.

use drive_e2e::{api::Api, exfat::Exfat, proxy::Proxy, write, Client, Server};

const EMAIL: &str = "ann@example.com";

fn pair() -> (Server, Client, Client) {
    let server = Server::start().expect("server");
    let a = Client::register(&server, EMAIL).expect("register");
    let b = Client::login(&server, EMAIL).expect("login");
    (server, a, b)
}

fn server_paths(server: &Server) -> Vec<String> {
    Api::paths_of(server, EMAIL).expect("the server's tree")
}

#[test]
fn an_ignore_pattern_never_deletes_a_synced_file() {
    let (server, a, b) = pair();
    write(&a.path("keep.log"), b"precious");
    write(&a.path("build/out.o"), b"object");
    write(&a.path("main.c"), b"int main;");
    a.sync().unwrap();
    b.sync().unwrap();
    // Now a ignores what was synced.
    write(&a.path(".driveignore"), b"*.log\nbuild/\n");
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    let on_server = server_paths(&server);
    for kept in ["keep.log", "build/out.o", "main.c", ".driveignore"] {
        assert!(
            on_server.contains(&kept.to_owned()),
            "{kept} must stay on the server: {on_server:?}"
        );
    }
    for client in [&a, &b] {
        assert_eq!(std::fs::read(client.path("keep.log")).unwrap(), b"precious");
        assert!(client.path("build/out.o").is_file());
    }
    // An ignored file edited or deleted here stays as it is on the server.
    std::fs::remove_file(a.path("keep.log")).unwrap();
    a.sync().unwrap();
    assert!(server_paths(&server).contains(&"keep.log".to_owned()));
}

#[test]
fn an_emptied_folder_is_held_until_confirmed() {
    let (server, a, b) = pair();
    for i in 0..5 {
        write(&a.path(&format!("docs/{i}.txt")), format!("file {i}").as_bytes());
    }
    a.sync().unwrap();
    b.sync().unwrap();
    // As an unmounted disk or `rm -rf ~/Drive/*` would leave it.
    std::fs::remove_dir_all(a.path("docs")).unwrap();
    let (code, _, stderr) = a.drive(&["sync", a.dir.path().to_str().unwrap(), "--once"]).unwrap();
    assert_eq!(code, 4, "held deletions exit 4: {stderr}");
    assert!(stderr.contains("deletions held: 5 of the 5 synced files"), "{stderr}");
    assert_eq!(server_paths(&server).len(), 6, "nothing trashed on the server");
    let status = a.status().unwrap();
    assert!(
        status.contains("deletions held") && status.contains("held: docs"),
        "{status}"
    );
    b.sync().unwrap();
    assert!(b.path("docs/4.txt").is_file(), "nothing deleted on the other device");

    let dir = a.dir.path().to_str().unwrap();
    let (code, _, stderr) = a.drive(&["sync", dir, "--once", "--confirm-deletions"]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(server_paths(&server).is_empty());
    b.sync().unwrap();
    assert!(!b.path("docs/4.txt").exists());
    // Deleted by the server here: kept in the folder's local trash.
    let trash = b.path(".drive/trash");
    let kept = drive_e2e::snapshot(&trash);
    assert!(kept.keys().any(|p| p.ends_with("docs/4.txt")), "{kept:?}");
}

#[test]
fn a_folder_synced_with_one_account_is_refused_for_another() {
    let server = Server::start().expect("server");
    let ann = Client::register(&server, EMAIL).unwrap();
    let _bob = Client::register(&server, "bob@example.com").unwrap();
    write(&ann.path("ann.txt"), b"ann's");
    ann.sync().unwrap();
    // The same profile and folder, signed in as someone else.
    let (code, _, _) = ann.drive(&["logout"]).unwrap();
    assert_eq!(code, 0);
    ann.sign_in_to(&server.url(), "login", "bob@example.com").unwrap();
    let dir = ann.dir.path().to_str().unwrap();
    let (code, _, stderr) = ann.drive(&["sync", dir, "--once"]).unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("ann@example.com") && stderr.contains("bob@example.com") && stderr.contains("drive unlink"),
        "names both accounts and the way out: {stderr}"
    );
    assert_eq!(std::fs::read(ann.path("ann.txt")).unwrap(), b"ann's");
    assert_eq!(server_paths(&server), vec!["ann.txt"]);
    // Unlinked on purpose: the next sync compares and deletes nothing.
    let (code, _, stderr) = ann.drive(&["unlink", dir]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    ann.sync().unwrap();
    assert_eq!(std::fs::read(ann.path("ann.txt")).unwrap(), b"ann's");
    assert_eq!(server_paths(&server), vec!["ann.txt"], "ann's own tree is untouched");
    let bobs = Api::login(&server, "bob@example.com").unwrap().tree().unwrap();
    assert!(bobs.contains_key("ann.txt"), "uploaded to bob's tree as a new file");
}

#[test]
fn names_from_the_wire_never_escape_the_folder() {
    let (server, a, _) = pair();
    let marker = format!("escaped-{}", std::process::id());
    write(&a.path("innocent.txt"), b"payload");
    write(&a.path("dir-innocent/inner.txt"), b"inner");
    a.sync().unwrap();
    // b talks to the server through a proxy that turns names hostile.
    let proxy = Proxy::start(
        &server.url(),
        vec![
            ("\"innocent.txt\"".into(), format!("\"../../{marker}\"")),
            ("\"dir-innocent\"".into(), "\"..\"".into()),
        ],
    )
    .unwrap();
    let parent = tempfile::tempdir().unwrap();
    let b = Client::login_at(&proxy.url(), EMAIL, parent.path()).unwrap();
    let dir = b.dir.path().to_str().unwrap();
    let (code, _, stderr) = b.drive(&["sync", dir, "--once"]).unwrap();
    assert_eq!(code, 5, "left out, not failed: {stderr}");
    for escaped in [
        b.dir.path().join("../..").join(&marker),
        b.dir.path().join("..").join(&marker),
        parent.path().join("inner.txt"),
        b.dir.path().join("inner.txt"),
    ] {
        assert!(!escaped.exists(), "{} was written", escaped.display());
    }
    let status = b.status().unwrap();
    assert!(
        status.contains(&format!("can't be synced on this device: ../../{marker}")),
        "{status}"
    );
    // Nothing was deleted anywhere on that basis.
    a.sync().unwrap();
    assert_eq!(
        server_paths(&server),
        vec!["dir-innocent", "dir-innocent/inner.txt", "innocent.txt"]
    );
}

#[test]
fn the_state_dir_name_and_ignored_names_stay_on_the_server() {
    let (server, a, b) = pair();
    let api = Api::login(&server, EMAIL).unwrap();
    let state = api.create_folder(api.root_id, ".drive").unwrap();
    api.create_folder(state, "planted").unwrap();
    write(&a.path("notes.txt"), b"notes");
    a.sync_once_output().unwrap();
    b.sync_once_output().unwrap();
    // Renamed on the server to a name this client ignores.
    api.rename(api.id("notes.txt").unwrap(), "notes.tmp").unwrap();
    for _ in 0..2 {
        for client in [&a, &b] {
            let output = client.sync_once_output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(5),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let on_server = server_paths(&server);
    assert!(on_server.contains(&"notes.tmp".to_owned()), "{on_server:?}");
    assert!(on_server.contains(&".drive/planted".to_owned()), "{on_server:?}");
    for client in [&a, &b] {
        assert!(
            !client.path(".drive/planted").exists(),
            "never merged into the state dir"
        );
        assert!(!client.path("notes.tmp").exists(), "an ignored name is not downloaded");
        let status = client.status().unwrap();
        assert!(status.contains("can't be synced on this device: .drive"), "{status}");
    }
    // Renamed out of these devices' view: gone from the folder, into its
    // local trash, still on the server.
    for client in [&a, &b] {
        assert!(!client.path("notes.txt").exists());
        let kept = drive_e2e::snapshot(&client.path(".drive/trash"));
        assert!(kept.keys().any(|p| p.ends_with("notes.txt")), "{kept:?}");
    }
}

#[test]
fn a_path_too_long_for_this_disk_stays_on_the_server() {
    let (server, a, b) = pair();
    write(&a.path("inner/deep.txt"), b"deep");
    write(&a.path("near.txt"), b"near");
    a.sync_once_output().unwrap();
    // Moved on the server under 17 folders of 250 bytes: deeper than a path
    // on Linux can name (4,095 bytes).
    let api = Api::login(&server, EMAIL).unwrap();
    let mut parent = api.root_id;
    for i in 0..17 {
        parent = api
            .create_folder(parent, &format!("{i:02}{}", "d".repeat(248)))
            .unwrap();
    }
    api.move_to(api.id("inner").unwrap(), parent).unwrap();
    for _ in 0..2 {
        for client in [&a, &b] {
            let output = client.sync_once_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            // Done, with something this device cannot hold: not an error.
            assert_eq!(output.status.code(), Some(5), "{stderr}");
            assert!(!stderr.contains("File name too long"), "{stderr}");
        }
    }
    let on_server = server_paths(&server);
    let deep: Vec<&String> = on_server.iter().filter(|p| p.ends_with("/inner/deep.txt")).collect();
    assert_eq!(deep.len(), 1, "{on_server:?}");
    assert!(
        !on_server.contains(&"inner/deep.txt".to_owned()),
        "not sent back up: {on_server:?}"
    );
    for client in [&a, &b] {
        assert_eq!(std::fs::read(client.path("near.txt")).unwrap(), b"near");
        let status = client.status().unwrap();
        assert!(status.contains("longer than this device allows"), "{status}");
    }
    // Moved out of this device's reach: out of the folder, into its local
    // trash, still on the server.
    assert!(!a.path("inner").exists());
    let kept = drive_e2e::snapshot(&a.path(".drive/trash"));
    assert!(kept.keys().any(|p| p.ends_with("inner/deep.txt")), "{kept:?}");
}

#[test]
fn a_case_insensitive_disk_keeps_both_names_and_refuses_illegal_ones() {
    let Some(disk) = Exfat::mount().unwrap() else { return };
    let (server, a, _) = pair();
    write(&a.path("Report.txt"), b"upper");
    write(&a.path("report.txt"), b"lower");
    write(&a.path("a:b.txt"), b"colon");
    write(&a.path("CON"), b"device");
    write(&a.path("Docs/x.txt"), b"x");
    a.sync().unwrap();
    let b = Client::login_at(&server.url(), EMAIL, &disk.path()).unwrap();
    assert!(!drive_e2e::exfat::case_sensitive(b.dir.path()));
    let dir = b.dir.path().to_str().unwrap();
    let (code, _, stderr) = b.drive(&["sync", dir, "--once"]).unwrap();
    assert_eq!(code, 5, "{stderr}");
    // The older node keeps the name; the other gets an alias.
    let api = Api::login(&server, EMAIL).unwrap();
    let (upper, lower) = (api.id("Report.txt").unwrap(), api.id("report.txt").unwrap());
    let (kept, aliased, alias) = if upper < lower {
        ("Report.txt", "report.txt", "report (case conflict).txt")
    } else {
        ("report.txt", "Report.txt", "Report (case conflict).txt")
    };
    let mut names: Vec<String> = std::fs::read_dir(b.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.to_lowercase().starts_with("report"))
        .collect();
    names.sort();
    let mut expected = vec![kept.to_owned(), alias.to_owned()];
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        std::fs::read(b.path(kept)).unwrap(),
        std::fs::read(a.path(kept)).unwrap()
    );
    assert_eq!(
        std::fs::read(b.path(alias)).unwrap(),
        std::fs::read(a.path(aliased)).unwrap()
    );
    let status = b.status().unwrap();
    assert!(status.contains("can't be synced on this device: a:b.txt"), "{status}");
    assert!(status.contains("can't be synced on this device: CON"), "{status}");

    // An edit of the alias goes to the file it stands for.
    let before = std::fs::read(a.path(kept)).unwrap();
    write(&b.path(alias), b"edited on exFAT");
    b.drive(&["sync", dir, "--once"]).unwrap();
    a.sync().unwrap();
    assert_eq!(std::fs::read(a.path(aliased)).unwrap(), b"edited on exFAT");
    assert_eq!(std::fs::read(a.path(kept)).unwrap(), before);
    assert!(!a.path(alias).exists(), "the alias is local to the exFAT device");

    // A case-only rename here travels as a rename.
    std::fs::rename(b.path("Docs"), b.path("DOCS")).unwrap();
    b.drive(&["sync", dir, "--once"]).unwrap();
    let on_server = server_paths(&server);
    assert!(on_server.contains(&"DOCS/x.txt".to_owned()), "{on_server:?}");
    assert!(!on_server.contains(&"Docs".to_owned()), "{on_server:?}");
    assert!(on_server.contains(&"a:b.txt".to_owned()) && on_server.contains(&"CON".to_owned()));
    a.sync().unwrap();
    assert_eq!(std::fs::read(a.path("DOCS/x.txt")).unwrap(), b"x");
}

#[test]
fn a_file_still_being_written_is_not_reported_in_sync() {
    let (server, a, _) = pair();
    write(&a.path("settled.txt"), b"done");
    let growing = a.path("recording.wav");
    write(&growing, &drive_e2e::random_bytes(7, 1 << 20));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, growing) = (stop.clone(), growing.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().append(true).open(&growing).unwrap();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                file.write_all(&drive_e2e::random_bytes(n, 64 * 1024)).unwrap();
                file.sync_data().unwrap();
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let output = a.sync_once_output().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "pending, not up to date: {stderr}");
    assert!(!stderr.contains("Up to date"), "{stderr}");
    assert!(server_paths(&server).contains(&"settled.txt".to_owned()));
    // Once it settles, it syncs whole.
    a.sync().unwrap();
    let api = Api::login(&server, EMAIL).unwrap();
    let size = api.tree().unwrap()["recording.wav"]["size"].as_u64().unwrap();
    assert_eq!(size, std::fs::metadata(&growing).unwrap().len());
}

#[test]
fn the_deletion_threshold_is_configurable() {
    let (server, a, _) = pair();
    for i in 0..10 {
        write(&a.path(&format!("{i}.txt")), format!("file {i}").as_bytes());
    }
    a.sync().unwrap();
    for i in 0..3 {
        std::fs::remove_file(a.path(&format!("{i}.txt"))).unwrap();
    }
    let dir = a.dir.path().to_str().unwrap();
    let (code, _, stderr) = a.drive(&["sync", dir, "--once", "--hold-deletions-over", "2"]).unwrap();
    assert_eq!(code, 4, "3 deletions over a threshold of 2 are held: {stderr}");
    assert_eq!(server_paths(&server).len(), 10);
    // Under the default threshold, 3 of 10 go through.
    a.sync().unwrap();
    assert_eq!(server_paths(&server).len(), 7);
}

#[test]
fn nfd_names_on_disk_sync_as_their_nfc_name_without_duplicates() {
    let (server, a, b) = pair();
    // As macOS often writes them: "é" as e + combining acute.
    let (nfd, nfc) = ("cafe\u{301}", "caf\u{e9}");
    write(&a.path(&format!("{nfd}/menu.txt")), b"croissant");
    write(&a.path("re\u{301}sume\u{301}.txt"), b"cv");
    a.sync().unwrap();
    let on_server = server_paths(&server);
    assert!(on_server.contains(&format!("{nfc}/menu.txt")), "{on_server:?}");
    assert!(on_server.contains(&"r\u{e9}sum\u{e9}.txt".to_owned()), "{on_server:?}");
    b.sync().unwrap();
    // Edited elsewhere: the NFD file is updated in place, not doubled.
    write(&b.path(&format!("{nfc}/menu.txt")), b"croissant, pain au chocolat");
    write(&b.path(&format!("{nfc}/new.txt")), b"new");
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(
        std::fs::read(a.path(&format!("{nfd}/menu.txt"))).unwrap(),
        b"croissant, pain au chocolat"
    );
    assert!(
        a.path(&format!("{nfd}/new.txt")).is_file(),
        "new files land in the folder as it is spelled"
    );
    let tree = a.tree();
    assert_eq!(tree.len(), 4, "no NFC twin was created: {tree:?}");
    // A twin in the other form (possible on Linux) is never merged with
    // it: the synced folder keeps the name, the newcomer is kept as a
    // conflicted copy beside it.
    write(&a.path(nfc), b"a file named like the folder");
    a.sync().unwrap();
    assert_eq!(
        std::fs::read(a.path(&format!("{nfd}/menu.txt"))).unwrap(),
        b"croissant, pain au chocolat"
    );
    let copy = std::fs::read_dir(a.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|name| name.contains("conflicted copy"))
        .expect("the newcomer kept as a conflicted copy");
    assert_eq!(std::fs::read(a.path(&copy)).unwrap(), b"a file named like the folder");
    let on_server = server_paths(&server);
    assert!(
        on_server.contains(&copy) && on_server.contains(&format!("{nfc}/menu.txt")),
        "{on_server:?}"
    );
}

#[test]
fn ignore_files_that_ignore_themselves_or_re_include_builtins_delete_nothing() {
    let (server, a, b) = pair();
    write(&a.path("app.log"), b"log");
    write(&a.path(".hidden"), b"dotfile");
    write(&a.path("keep.txt"), b"keep");
    a.sync().unwrap();
    // An ignore file that ignores itself (and every dotfile) still counts.
    write(&a.path(".driveignore"), b".*\n*.log\n");
    a.sync().unwrap();
    a.sync().unwrap();
    let on_server = server_paths(&server);
    for kept in ["app.log", ".hidden", "keep.txt"] {
        assert!(on_server.contains(&kept.to_owned()), "{kept} trashed: {on_server:?}");
    }
    // A `!` re-including a built-in pattern: the file syncs and stays.
    write(&b.path(".driveignore"), b"!*.tmp\n");
    write(&b.path("draft.tmp"), b"wanted");
    b.sync().unwrap();
    b.sync().unwrap();
    assert!(server_paths(&server).contains(&"draft.tmp".to_owned()));
    assert_eq!(std::fs::read(b.path("draft.tmp")).unwrap(), b"wanted");
}

#[test]
fn a_folder_whose_state_is_gone_is_refused_not_emptied() {
    let (server, a, _) = pair();
    write(&a.path("one.txt"), b"1");
    a.sync().unwrap();
    // As an unmounted disk's empty mount point, or a folder recreated empty.
    for entry in std::fs::read_dir(a.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let dir = a.dir.path().to_str().unwrap();
    let (code, _, stderr) = a.drive(&["sync", dir, "--once"]).unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("looks empty or replaced"), "{stderr}");
    assert_eq!(server_paths(&server), vec!["one.txt"]);
    // Unlinked on purpose: the next sync brings the files back.
    assert_eq!(a.drive(&["unlink", dir]).unwrap().0, 0);
    a.sync().unwrap();
    assert_eq!(std::fs::read(a.path("one.txt")).unwrap(), b"1");
}
