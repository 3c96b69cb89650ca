use std::{
    collections::BTreeMap,
    io::{ErrorKind, Read, Seek, SeekFrom, Write},
    path::Path,
};

use super::{FsMode, MemFs};
use crate::fs::{FileKind, Fs};

fn p(path: &str) -> &Path {
    Path::new(path)
}

fn names(fs: &MemFs, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs
        .read_dir(p(dir))
        .unwrap()
        .into_iter()
        .map(|n| n.into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn case_insensitive_lookup_and_case_only_rename() {
    let fs = MemFs::new(FsMode::case_insensitive());
    fs.create_dir_all(p("/Sync/Docs")).unwrap();
    fs.write(p("/sync/docs/Report.TXT"), b"one").unwrap();
    assert_eq!(fs.read(p("/SYNC/DOCS/report.txt")).unwrap(), b"one");
    assert_eq!(names(&fs, "/sync/docs"), ["Report.TXT"]);
    // Writing under another case keeps the stored spelling.
    fs.write(p("/sync/docs/REPORT.txt"), b"two").unwrap();
    assert_eq!(names(&fs, "/sync/docs"), ["Report.TXT"]);
    let inode = fs.metadata(p("/sync/docs/report.txt")).unwrap().inode;
    fs.rename(p("/sync/docs/report.txt"), p("/sync/docs/report.txt"))
        .unwrap();
    assert_eq!(names(&fs, "/sync/docs"), ["report.txt"]);
    assert_eq!(fs.metadata(p("/Sync/Docs/REPORT.TXT")).unwrap().inode, inode);
    assert_eq!(
        fs.canonicalize(p("/sync/./x/../DOCS/Report.txt")).unwrap(),
        p("/Sync/Docs/report.txt")
    );
    fs.rename(p("/sync/docs"), p("/sync/DOCS")).unwrap();
    assert_eq!(names(&fs, "/sync"), ["DOCS"]);

    let posix = MemFs::new(FsMode::posix());
    posix.write(p("/a"), b"lower").unwrap();
    posix.write(p("/A"), b"upper").unwrap();
    assert_eq!(names(&posix, "/"), ["A", "a"]);
    assert_eq!(posix.metadata(p("/b")).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn windows_names_refused() {
    let fs = MemFs::new(FsMode::windows());
    for bad in [
        "a<b",
        "a>b",
        "a:b",
        "a\"b",
        "a\\b",
        "a|b",
        "a?b",
        "a*b",
        "a\u{1}b",
        "CON",
        "con.txt",
        "Lpt9.tar.gz",
        "nul",
        "com1",
        "dot.",
        "space ",
    ] {
        let path = format!("/{bad}");
        assert_eq!(
            fs.create(p(&path)).err().unwrap().kind(),
            ErrorKind::InvalidInput,
            "{bad}"
        );
        assert_eq!(
            fs.create_dir_all(p(&path)).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{bad}"
        );
        assert_eq!(
            fs.user_write(p(&path), b"x").unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{bad}"
        );
    }
    fs.write(p("/ok.txt"), b"x").unwrap();
    assert_eq!(
        fs.rename(p("/ok.txt"), p("/aux.txt")).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    for good in ["COM0", "console.txt", "LPT10", ".hidden", "a b.txt", "ok.txt"] {
        fs.write(p(&format!("/{good}")), b"x").unwrap();
    }
    assert!(fs.exists(p("/ok.txt")));
    // The same names are fine on POSIX.
    MemFs::new(FsMode::posix()).write(p("/a:b?"), b"x").unwrap();
}

#[test]
fn crash_reverts_unsynced_data_and_keeps_synced() {
    let fs = MemFs::default();
    fs.write(p("/synced"), b"durable").unwrap();
    let synced = fs.metadata(p("/synced")).unwrap();
    let mut file = fs.create(p("/never")).unwrap();
    file.write_all(b"lost").unwrap();
    let mut half = fs.create(p("/half")).unwrap();
    half.write_all(b"kept").unwrap();
    half.sync_all().unwrap();
    let half_meta = fs.metadata(p("/half")).unwrap();
    half.write_all(b" and lost").unwrap();
    assert_eq!(fs.read(p("/half")).unwrap(), b"kept and lost");
    fs.user_mkdir(p("/dir")).unwrap();

    fs.crash();
    assert_eq!(fs.read(p("/synced")).unwrap(), b"durable");
    assert_eq!(fs.metadata(p("/synced")).unwrap(), synced);
    assert_eq!(fs.read(p("/never")).unwrap(), b"");
    assert_eq!(fs.metadata(p("/never")).unwrap().len, 0);
    assert_eq!(fs.read(p("/half")).unwrap(), b"kept");
    assert_eq!(fs.metadata(p("/half")).unwrap(), half_meta);
    assert!(fs.metadata(p("/dir")).unwrap().is_dir());
    // The dead process's handles no longer write.
    assert!(half.write_all(b"ghost").is_err());
    drop(half);
    drop(file);
    assert_eq!(fs.read(p("/half")).unwrap(), b"kept");
}

#[test]
fn open_handle_writes_to_its_inode_after_rename_or_unlink() {
    let fs = MemFs::default();
    let mut file = fs.create(p("/tmp.part")).unwrap();
    file.write_all(b"first ").unwrap();
    fs.rename(p("/tmp.part"), p("/final")).unwrap();
    file.write_all(b"second").unwrap();
    assert_eq!(fs.read(p("/final")).unwrap(), b"first second");
    assert!(!fs.exists(p("/tmp.part")));

    let mut reader = fs.open(p("/final")).unwrap();
    fs.remove_file(p("/final")).unwrap();
    file.write_all(b"!").unwrap();
    file.sync_all().unwrap();
    let mut bytes = String::new();
    reader.read_to_string(&mut bytes).unwrap();
    assert_eq!(bytes, "first second!");
    reader.seek(SeekFrom::End(-1)).unwrap();
    bytes.clear();
    reader.read_to_string(&mut bytes).unwrap();
    assert_eq!(bytes, "!");
    assert!(!fs.exists(p("/final")));
    drop((file, reader));
    assert_eq!(fs.all_paths(), Vec::<String>::new());
}

#[test]
fn rename_replaces_a_file_and_follows_posix_rules() {
    let fs = MemFs::default();
    fs.write(p("/a"), b"new").unwrap();
    fs.write(p("/b"), b"old").unwrap();
    let inode = fs.metadata(p("/a")).unwrap().inode;
    let mtime = fs.metadata(p("/a")).unwrap().mtime_ns;
    fs.rename(p("/a"), p("/b")).unwrap();
    assert_eq!(fs.read(p("/b")).unwrap(), b"new");
    assert_eq!(fs.metadata(p("/b")).unwrap().inode, inode);
    assert_eq!(fs.metadata(p("/b")).unwrap().mtime_ns, mtime);
    assert_eq!(names(&fs, "/"), ["b"]);

    fs.create_dir_all(p("/d/sub")).unwrap();
    fs.create_dir_all(p("/empty")).unwrap();
    fs.create_dir_all(p("/full/x")).unwrap();
    let kind = |from: &str, to: &str| fs.rename(p(from), p(to)).unwrap_err().kind();
    assert_eq!(kind("/b", "/d"), ErrorKind::IsADirectory);
    assert_eq!(kind("/d", "/b"), ErrorKind::NotADirectory);
    assert_eq!(kind("/d", "/full"), ErrorKind::DirectoryNotEmpty);
    assert_eq!(kind("/d", "/d/sub/d"), ErrorKind::InvalidInput);
    assert_eq!(kind("/missing", "/x"), ErrorKind::NotFound);
    assert_eq!(kind("/b", "/nowhere/b"), ErrorKind::NotFound);
    assert_eq!(kind("/b", "/b/c"), ErrorKind::NotADirectory);
    fs.rename(p("/d"), p("/empty")).unwrap();
    assert!(fs.metadata(p("/empty/sub")).unwrap().is_dir());
    assert!(!fs.exists(p("/d")));
}

#[test]
fn removals_fail_with_the_kinds_of_the_disk() {
    let fs = MemFs::default();
    fs.create_dir_all(p("/dir/sub")).unwrap();
    fs.write(p("/dir/sub/f"), b"x").unwrap();
    fs.user_symlink(p("/dir/link")).unwrap();
    let kind = |result: std::io::Result<()>| result.unwrap_err().kind();
    assert_eq!(kind(fs.remove_dir(p("/dir"))), ErrorKind::DirectoryNotEmpty);
    assert_eq!(kind(fs.remove_dir(p("/dir/sub/f"))), ErrorKind::NotADirectory);
    assert_eq!(kind(fs.remove_file(p("/dir/sub"))), ErrorKind::IsADirectory);
    assert_eq!(kind(fs.remove_dir_all(p("/dir/sub/f"))), ErrorKind::NotADirectory);
    assert_eq!(kind(fs.remove_file(p("/dir/nope"))), ErrorKind::NotFound);
    assert_eq!(kind(fs.create_dir_all(p("/dir/sub/f/g"))), ErrorKind::NotADirectory);
    assert_eq!(kind(fs.create_dir_all(p("/dir/sub/f"))), ErrorKind::AlreadyExists);
    assert_eq!(fs.create(p("/dir")).err().unwrap().kind(), ErrorKind::IsADirectory);
    assert_eq!(fs.open(p("/dir/link")).err().unwrap().kind(), ErrorKind::NotFound);
    assert_eq!(fs.metadata(p("/dir/link")).unwrap().kind, FileKind::Symlink);
    fs.remove_file(p("/dir/link")).unwrap();
    fs.remove_file(p("/dir/sub/f")).unwrap();
    fs.remove_dir(p("/dir/sub")).unwrap();
    fs.create_dir_all(p("/dir/a/b")).unwrap();
    fs.remove_dir_all(p("/dir")).unwrap();
    assert_eq!(names(&fs, "/"), Vec::<String>::new());
}

#[test]
fn jail_refuses_and_records_escapes() {
    let fs = MemFs::default();
    fs.user_mkdir(p("/home/ann/Drive")).unwrap();
    fs.user_write(p("/home/ann/other"), b"x").unwrap();
    fs.jail(p("/home/ann/Drive"));
    fs.write(p("/home/ann/Drive/ok"), b"x").unwrap();
    fs.create_dir_all(p("/home/ann/Drive")).unwrap();
    let kind = |result: std::io::Result<()>| result.unwrap_err().kind();
    assert_eq!(kind(fs.write(p("/home/ann/Drive2"), b"x")), ErrorKind::PermissionDenied);
    assert_eq!(
        kind(fs.rename(p("/home/ann/other"), p("/home/ann/Drive/o"))),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        kind(fs.remove_file(p("/home/ann/Drive/../other"))),
        ErrorKind::PermissionDenied
    );
    assert_eq!(kind(fs.set_mtime(p("/home/ann"), 0)), ErrorKind::PermissionDenied);
    assert!(fs.try_lock(p("/tmp/lock")).is_err());
    // Reads are not mutations.
    assert_eq!(fs.read(p("/home/ann/other")).unwrap(), b"x");
    assert_eq!(
        fs.escapes(),
        [
            "/home/ann/Drive2",
            "/home/ann/other",
            "/home/ann/Drive/../other",
            "/home/ann",
            "/tmp/lock"
        ]
        .map(std::path::PathBuf::from)
    );
    assert!(fs.exists(p("/home/ann/other")));
    assert!(!fs.exists(p("/home/ann/Drive2")));
}

#[test]
fn faults_are_deterministic_per_seed() {
    let run = |seed: u64| {
        let fs = MemFs::default();
        fs.set_faults(0.3, seed);
        (0..200)
            .map(|i| fs.write(p(&format!("/f{i}")), b"x").is_ok())
            .collect::<Vec<bool>>()
    };
    let first = run(7);
    assert_eq!(first, run(7));
    assert_ne!(first, run(8));
    assert!(first.iter().any(|ok| *ok) && first.iter().any(|ok| !*ok));

    let fs = MemFs::default();
    fs.set_faults(1.0, 1);
    let error = fs.create_dir_all(p("/d")).unwrap_err();
    assert_eq!(
        (error.kind(), error.to_string().as_str()),
        (ErrorKind::Other, "injected I/O error")
    );
    assert!(!fs.exists(p("/d")));
    fs.set_faults(0.0, 1);
    fs.create_dir_all(p("/d")).unwrap();
}

#[test]
fn lock_is_exclusive_and_released_on_drop_or_crash() {
    let fs = MemFs::default();
    let guard = fs.try_lock(p("/lock")).unwrap().expect("free");
    assert!(fs.metadata(p("/lock")).unwrap().is_file());
    assert!(fs.clone().try_lock(p("/lock")).unwrap().is_none());
    drop(guard);
    let stale = fs.try_lock(p("/lock")).unwrap().expect("released");
    fs.crash();
    let fresh = fs
        .try_lock(p("/lock"))
        .unwrap()
        .expect("the dead process's lock is gone");
    drop(stale);
    assert!(fs.try_lock(p("/lock")).unwrap().is_none());
    drop(fresh);
    assert!(fs.try_lock(p("/lock")).unwrap().is_some());
    assert!(!fs.blocks());
}

#[test]
fn user_edits_and_snapshot() {
    let fs = MemFs::new(FsMode::windows());
    assert_eq!(fs.mode(), FsMode::windows());
    fs.user_write(p("/root/a/b.txt"), b"b").unwrap();
    fs.user_mkdir(p("/root/empty")).unwrap();
    fs.user_symlink(p("/root/link")).unwrap();
    fs.user_rename(p("/root/a"), p("/root/A2")).unwrap();
    fs.user_write(p("/root/gone"), b"").unwrap();
    fs.user_remove(p("/root/gone")).unwrap();
    fs.crash();
    let snapshot = fs.snapshot(p("/ROOT"));
    let expected = [("A2", None), ("A2/b.txt", Some(b"b".to_vec())), ("empty", None)];
    assert_eq!(snapshot, BTreeMap::from(expected.map(|(k, v)| (k.to_owned(), v))));
    assert_eq!(
        fs.all_paths(),
        ["/root/", "/root/A2/", "/root/A2/b.txt", "/root/empty/", "/root/link@"]
    );
    let before = fs.metadata(p("/root/A2/b.txt")).unwrap();
    fs.set_mtime(p("/root/A2/b.txt"), 42).unwrap();
    fs.crash();
    assert_eq!(fs.metadata(p("/root/A2/b.txt")).unwrap().mtime_ns, 42);
    assert_eq!(fs.metadata(p("/root/A2/b.txt")).unwrap().inode, before.inode);
    assert!(before.mtime_ns >= 1_600_000_000_000_000_000);
    assert_eq!(fs.user_remove(p("/root/nope")).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs.metadata(p("relative")).unwrap_err().kind(), ErrorKind::InvalidInput);
}
