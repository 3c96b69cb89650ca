use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use notify::{
    event::{AccessKind, AccessMode, CreateKind, Flag, ModifyKind},
    Event, EventKind,
};

use super::*;
use crate::scanner::STATE_DIR;

/// Generous: the tests wait for things to happen, never for time to pass.
const PATIENCE: Duration = Duration::from_secs(30);
/// Polling so rare that it never happens during a test.
#[cfg(target_os = "linux")]
const NEVER: Duration = Duration::from_secs(3600);

fn event(kind: EventKind, path: &str) -> Event {
    Event::new(kind).add_path(PathBuf::from(path))
}

#[test]
fn reads_the_state_dir_and_ignored_files_do_not_count_changes_do() {
    let state = Path::new("/d/.drive");
    let skips = |path: &Path| path.starts_with(state) || path.extension().is_some_and(|e| e == "log");
    let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
    let read_closed = EventKind::Access(AccessKind::Close(AccessMode::Read));
    let written = EventKind::Access(AccessKind::Close(AccessMode::Write));
    assert!(!is_relevant(&event(open, "/d"), skips));
    assert!(!is_relevant(&event(read_closed, "/d/a.txt"), skips));
    assert!(is_relevant(&event(written, "/d/a.txt"), skips));
    assert!(is_relevant(
        &event(EventKind::Create(CreateKind::File), "/d/a.txt"),
        skips
    ));
    assert!(is_relevant(
        &event(EventKind::Modify(ModifyKind::Any), "/d/a.txt"),
        skips
    ));
    assert!(!is_relevant(
        &event(EventKind::Create(CreateKind::File), "/d/.drive/tmp/x"),
        skips
    ));
    assert!(!is_relevant(&event(written, "/d/app.log"), skips), "skipped: ignored");
    let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
    assert!(is_relevant(&overflow, skips));
}

fn coverage(folders: usize, limit: Option<u64>) -> Coverage {
    Coverage {
        root: PathBuf::from("/home/me/Drive"),
        folders,
        watched: 10,
        limit,
        poll: POLL_UNWATCHED,
    }
}

#[test]
fn the_suggested_limit_holds_twice_the_tree_and_beats_the_current_one() {
    assert_eq!(coverage(50, Some(10)).suggested_limit(), 524_288);
    assert_eq!(coverage(262_144, Some(8192)).suggested_limit(), 1_048_576);
    assert_eq!(coverage(300_000, None).suggested_limit(), 1_048_576);
    // Others hold most of a big limit already: more than it.
    assert_eq!(coverage(50, Some(1_048_576)).suggested_limit(), 2_097_152);
    assert_eq!(coverage(50, Some(600_000)).suggested_limit(), 1_048_576);
}

#[test]
fn a_fully_watched_tree_needs_no_advice() {
    let mut all = coverage(10, Some(8192));
    assert!(all.complete());
    assert_eq!(all.advice(), None);
    all.folders = 11;
    assert!(!all.complete());
    let advice = all.advice().expect("advice");
    assert!(
        advice.contains("Only 10 of the 11 folders in /home/me/Drive"),
        "{advice}"
    );
    assert!(advice.contains("the other 1 folders"), "{advice}");
    assert!(advice.contains("allows 8192 watched folders"), "{advice}");
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_wake(wakes: &mut mpsc::Receiver<()>, what: &str) {
    wait_until(what, || wakes.try_recv().is_ok());
}

/// The folder itself, `a` to `g` in it, and `0` to `5` in each of those:
/// 50 folders; and a state dir, which does not count.
fn tree_of_50(root: &Path) {
    for top in ["a", "b", "c", "d", "e", "f", "g"] {
        for sub in 0..6 {
            std::fs::create_dir_all(root.join(top).join(sub.to_string())).unwrap();
        }
    }
    std::fs::create_dir_all(root.join(STATE_DIR).join("tmp")).unwrap();
}

#[cfg(target_os = "linux")]
fn options(budget: Option<usize>, poll: Duration) -> Options {
    Options {
        budget,
        poll,
        per_folder: true,
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_budget_watches_the_top_of_the_tree_first_and_says_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_50(root);
    let (watcher, mut wakes) = watch_with(root, options(Some(10), NEVER)).unwrap();

    let coverage = watcher.coverage();
    assert_eq!(
        coverage,
        Coverage {
            root: root.to_owned(),
            folders: 50,
            watched: 10,
            limit: Some(10),
            poll: NEVER,
        }
    );
    // Breadth-first, by name: the folder, its 7 folders, then a/0 and a/1.
    let mut first: Vec<PathBuf> = vec![root.to_owned()];
    first.extend(["a", "b", "c", "d", "e", "f", "g"].map(|top| root.join(top)));
    first.extend([root.join("a/0"), root.join("a/1")]);
    for dir in &first {
        assert!(watcher.is_watched(dir), "{} is watched", dir.display());
    }
    for dir in ["a/2", "b/0", "g/5", ".drive", ".drive/tmp"] {
        assert!(!watcher.is_watched(&root.join(dir)), "{dir} is not watched");
    }

    let advice = coverage.advice().expect("part of the tree is unwatched");
    for words in [
        "Only 10 of the 50 folders",
        "allows 10 watched folders",
        "the other 40 folders",
        "sudo sysctl fs.inotify.max_user_watches=524288",
        "echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/90-drive.conf",
    ] {
        assert!(advice.contains(words), "{words:?} in {advice}");
    }

    // A change in an unwatched folder goes unseen by the OS watcher (the
    // polling finds it); one in a watched folder is reported. Events come
    // in order: once the second is seen, the first would have been.
    std::fs::write(root.join("b/3/unseen.txt"), "x").unwrap();
    std::fs::write(root.join("a/1/seen.txt"), "x").unwrap();
    let seen = root.join("a/1/seen.txt");
    wait_until("the change is seen", || watcher.seen().contains(&seen));
    wait_for_wake(&mut wakes, "the change wakes the engine");
    assert!(
        !watcher.seen().iter().any(|path| path.starts_with(root.join("b/3"))),
        "{:?}",
        watcher.seen()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn unwatched_folders_are_listed_for_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_50(root);
    let (watcher, mut wakes) = watch_with(root, options(Some(10), Duration::from_millis(50))).unwrap();
    assert_eq!(watcher.coverage().unwatched(), 40);

    std::fs::write(root.join("g/5/new.txt"), "x").unwrap();
    wait_for_wake(&mut wakes, "the polling finds the new file");
    assert!(!watcher.seen().iter().any(|path| path.starts_with(root.join("g/5"))));

    // A folder made in an unwatched one is found, and polled too.
    std::fs::create_dir(root.join("g/5/deeper")).unwrap();
    wait_until("the new folder is counted", || watcher.coverage().folders == 51);
    assert_eq!(watcher.coverage().watched, 10);
    while wakes.try_recv().is_ok() {}
    std::fs::write(root.join("g/5/deeper/file.txt"), "x").unwrap();
    wait_for_wake(&mut wakes, "the polling finds the file in the new folder");

    // A folder that goes is forgotten.
    std::fs::remove_dir_all(root.join("g")).unwrap();
    wait_until("the folders are forgotten", || watcher.coverage().folders == 43);
    assert!(!watcher.is_watched(&root.join("g")));
}

#[cfg(target_os = "linux")]
#[test]
fn a_folder_made_after_start_is_watched_with_what_is_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_50(root);
    let (watcher, mut wakes) = watch_with(root, options(None, NEVER)).unwrap();
    assert_eq!(watcher.coverage().folders, 50);
    assert!(watcher.coverage().complete());

    let deepest = root.join("new/deeper/deepest");
    std::fs::create_dir_all(&deepest).unwrap();
    wait_until("the new folders are watched", || watcher.is_watched(&deepest));
    assert!(watcher.is_watched(&root.join("new/deeper")));
    let file = deepest.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    wait_until("the file in the new folder is seen", || watcher.seen().contains(&file));
    wait_for_wake(&mut wakes, "the engine is woken");

    // Moved in from outside, with a folder in it.
    let outside = tempfile::tempdir_in(root.parent().unwrap()).unwrap();
    std::fs::create_dir_all(outside.path().join("moved/inner")).unwrap();
    std::fs::rename(outside.path().join("moved"), root.join("moved")).unwrap();
    let inner = root.join("moved/inner");
    wait_until("the moved-in folders are watched", || watcher.is_watched(&inner));
    let file = inner.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    wait_until("the file in the moved-in folder is seen", || {
        watcher.seen().contains(&file)
    });

    // Gone folders are forgotten.
    std::fs::remove_dir_all(root.join("new")).unwrap();
    wait_until("the removed folders are forgotten", || watcher.coverage().folders == 52);
    assert!(!watcher.is_watched(&deepest));
    assert!(watcher.coverage().complete());
}

#[cfg(target_os = "linux")]
#[test]
fn ignored_folders_lose_their_watches_and_ignored_changes_wake_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_50(root);
    std::fs::create_dir_all(root.join("node_modules/x/y")).unwrap();
    let (watcher, mut wakes) = watch_with(root, options(None, NEVER)).unwrap();
    // Until the engine has scanned, everything is watched.
    assert_eq!(watcher.coverage().folders, 53);
    assert!(watcher.is_watched(&root.join("node_modules/x/y")));

    let mut rules = IgnoreRules::new(root);
    rules.add_file("", "node_modules/\n*.log\n");
    watcher.ignore(Arc::new(rules.clone()));
    wait_until("the ignored folders lose their watches", || {
        !watcher.is_watched(&root.join("node_modules"))
    });
    assert_eq!(watcher.coverage().folders, 50);
    assert!(watcher.coverage().complete());
    assert!(!watcher.is_watched(&root.join("node_modules/x/y")));
    // The same rules again change nothing; a folder made in an ignored one
    // gets no watch.
    watcher.ignore(Arc::new(rules));
    std::fs::create_dir(root.join("node_modules/z")).unwrap();

    // Ignored changes wake nothing; events come in order, so once the last
    // change is seen, the others would have been.
    while wakes.try_recv().is_ok() {}
    std::fs::write(root.join("a/app.log"), "noise").unwrap();
    std::fs::write(root.join("node_modules/new.js"), "x").unwrap();
    let seen = root.join("a/seen.txt");
    std::fs::write(&seen, "x").unwrap();
    wait_until("the change is seen", || watcher.seen().contains(&seen));
    let seen_all = watcher.seen();
    assert!(
        seen_all.iter().all(|path| *path == seen),
        "only the change that matters: {seen_all:?}"
    );
    assert!(!watcher.is_watched(&root.join("node_modules/z")));

    // No longer ignored: watched again, with what is in it.
    watcher.ignore(Arc::new(IgnoreRules::new(root)));
    wait_until("the folders are watched again", || {
        watcher.is_watched(&root.join("node_modules/x/y"))
    });
    assert!(watcher.is_watched(&root.join("node_modules/z")));
    assert_eq!(watcher.coverage().folders, 54);
    wait_for_wake(&mut wakes, "the engine is woken for the change seen");
}

#[cfg(target_os = "linux")]
#[test]
fn a_folder_made_beyond_the_budget_is_told_and_polled() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("a")).unwrap();
    let (watcher, mut wakes) = watch_with(root, options(Some(3), Duration::from_millis(50))).unwrap();
    assert!(watcher.coverage().complete());
    assert_eq!(watcher.coverage().advice(), None);

    std::fs::create_dir_all(root.join("b/c")).unwrap();
    wait_until("the new folders are counted", || watcher.coverage().folders == 4);
    let coverage = watcher.coverage();
    assert_eq!((coverage.watched, coverage.unwatched()), (3, 1));
    assert!(watcher.is_watched(&root.join("b")));
    assert!(!watcher.is_watched(&root.join("b/c")));
    assert!(coverage.advice().unwrap().contains("Only 3 of the 4 folders"));

    while wakes.try_recv().is_ok() {}
    std::fs::write(root.join("b/c/file.txt"), "x").unwrap();
    wait_for_wake(&mut wakes, "the polling finds the file");

    // Room again: the unwatched folder gets its watch.
    std::fs::remove_dir(root.join("a")).unwrap();
    wait_until("the freed watch is used", || watcher.is_watched(&root.join("b/c")));
    assert!(watcher.coverage().complete());
}

#[test]
fn one_recursive_watch_holds_the_tree_where_watches_are_cheap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_50(root);
    let options = Options {
        per_folder: false,
        ..Options::default()
    };
    let (watcher, mut wakes) = watch_with(root, options).unwrap();
    assert!(watcher.coverage().complete());
    let file = root.join("g/5/file.txt");
    std::fs::write(&file, "x").unwrap();
    wait_until("the change is seen", || {
        watcher.seen().iter().any(|path| path.ends_with("g/5/file.txt"))
    });
    wait_for_wake(&mut wakes, "the engine is woken");
}

/// The real OS limit, not a budget: run it where the limit is low, e.g. as
/// `unshare -Ur sh -c 'echo 20 > /proc/sys/user/max_inotify_watches && exec
/// cargo nextest run -p drive-sync --run-ignored only the_os_limit'`.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs a watch limit under 50"]
fn the_os_limit_leaves_the_rest_unwatched_and_polled() {
    let _log = tracing::subscriber::set_default(tracing_subscriber::fmt().with_test_writer().finish());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_of_50(root);
    let (watcher, mut wakes) = watch_with(root, options(None, Duration::from_millis(50))).unwrap();
    let coverage = watcher.coverage();
    assert_eq!(coverage.folders, 50);
    assert!(coverage.watched > 0 && coverage.watched < 50, "{coverage:?}");
    let advice = coverage.advice().expect("advice");
    assert!(advice.contains("sudo sysctl fs.inotify.max_user_watches="), "{advice}");
    std::fs::write(root.join("g/5/new.txt"), "x").unwrap();
    wait_for_wake(&mut wakes, "the polling finds the new file");
}

#[test]
fn a_missing_folder_cannot_be_watched() {
    let dir = tempfile::tempdir().unwrap();
    assert!(watch(&dir.path().join("missing")).is_err());
}

#[test]
fn a_change_is_told_to_the_hooks_at_once_before_the_debounced_wake() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let told = Arc::new(Mutex::new(Vec::<&str>::new()));
    let hook = {
        let told = told.clone();
        on_change(root, move || told.lock().unwrap().push("hook"))
    };
    // Another folder's hook hears nothing of this one.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Arc::new(Mutex::new(0));
    let _other_hook = {
        let other = other.clone();
        on_change(elsewhere.path(), move || *other.lock().unwrap() += 1)
    };
    let (_watcher, mut wakes) = watch(root).unwrap();
    std::fs::write(root.join("a.txt"), "a").unwrap();
    wait_for_wake(&mut wakes, "the change wakes the engine");
    told.lock().unwrap().push("wake");
    assert_eq!(told.lock().unwrap()[..2], ["hook", "wake"], "the hook comes first");
    assert_eq!(*other.lock().unwrap(), 0);

    // Unregistered when dropped.
    drop(hook);
    let before = told.lock().unwrap().len();
    std::fs::write(root.join("b.txt"), "b").unwrap();
    wait_for_wake(&mut wakes, "the second change wakes the engine");
    assert_eq!(told.lock().unwrap().len(), before);
}
