//! "Copy share link" in file managers: the entries installed into a temporary
//! home are valid for their file manager, run `drive-desktop --share FILES`
//! (checked by running each entry's command, as its file manager would, with
//! a stand-in app that records its arguments), and are removed cleanly.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use drive_desktop::file_manager::{self, EntryFile};

/// File names a user may well select: spaces, quotes, a dollar.
const FILES: [&str; 2] = ["Quarterly report.pdf", "it's $HOME \"now\".txt"];

/// A stand-in for the app, in a folder whose name needs quoting: it writes
/// its arguments, one a line, next to itself.
fn fake_app(dir: &Path) -> PathBuf {
    let folder = dir.join("Drive App");
    std::fs::create_dir_all(&folder).unwrap();
    let exe = folder.join("drive-desktop");
    std::fs::write(&exe, "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n").unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

fn recorded(exe: &Path) -> Vec<String> {
    let args = exe.with_file_name("args");
    let text = std::fs::read_to_string(&args).expect("the app was not called");
    std::fs::remove_file(args).unwrap();
    text.lines().map(str::to_owned).collect()
}

fn expected(dir: &Path) -> Vec<String> {
    let mut args = vec!["--share".to_owned()];
    args.extend(FILES.iter().map(|f| dir.join(f).to_string_lossy().into_owned()));
    args
}

/// A desktop entry / Nemo action as groups of key=value lines.
fn key_file(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            groups.push((name.to_owned(), Vec::new()));
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not key=value: {line}"));
        let group = groups.last_mut().expect("a key before any group");
        assert!(!group.1.iter().any(|(k, _)| k == key), "duplicate key {key}");
        group.1.push((key.to_owned(), value.to_owned()));
    }
    groups
}

fn value<'a>(groups: &'a [(String, Vec<(String, String)>)], group: &str, key: &str) -> &'a str {
    let (_, entries) = groups
        .iter()
        .find(|(name, _)| name == group)
        .unwrap_or_else(|| panic!("no [{group}]"));
    entries
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in [{group}]"))
}

/// Splits an `Exec` value as the freedesktop spec says (string escapes, then
/// quoting), expanding `%F` to `files`.
fn desktop_exec(exec: &str, files: &[String]) -> Vec<String> {
    let mut unescaped = String::new();
    let mut chars = exec.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('s') => unescaped.push(' '),
                Some('n') => unescaped.push('\n'),
                Some('t') => unescaped.push('\t'),
                Some('\\') => unescaped.push('\\'),
                Some(other) => panic!("bad escape \\{other} in {exec}"),
                None => panic!("trailing backslash in {exec}"),
            }
        } else {
            unescaped.push(c);
        }
    }
    let mut args = Vec::new();
    let mut chars = unescaped.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next().expect("an unterminated quote") {
                    '"' => break,
                    '\\' => arg.push(chars.next().expect("an escape")),
                    other => arg.push(other),
                }
            }
            args.push(arg);
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                assert!(!"\"'\\`$".contains(c), "unquoted reserved character in {exec}");
                arg.push(c);
                chars.next();
            }
            if arg == "%F" {
                args.extend(files.iter().cloned());
            } else {
                args.push(arg);
            }
        }
    }
    args
}

fn run(args: &[String], cwd: &Path) {
    let status = Command::new(&args[0])
        .args(&args[1..])
        .current_dir(cwd)
        .status()
        .unwrap();
    assert!(status.success());
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 == 0o111
}

#[test]
fn linux_entries_are_valid_run_the_app_and_come_off_cleanly() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    let selected = temp.path().join("Drive/docs");
    std::fs::create_dir_all(&selected).unwrap();
    let exe = fake_app(temp.path());
    let files: Vec<String> = FILES
        .iter()
        .map(|f| selected.join(f).to_string_lossy().into_owned())
        .collect();

    // Someone's own Thunar action must survive us.
    let thunar = file_manager::thunar_path(&home);
    std::fs::create_dir_all(thunar.parent().unwrap()).unwrap();
    std::fs::write(
        &thunar,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<actions>\n<action>\n\t<name>Open Terminal Here</name>\n\t<unique-id>1</unique-id>\n\t<command>exo-open --launch TerminalEmulator</command>\n</action>\n</actions>\n",
    )
    .unwrap();

    // Twice: installing again (the app does at every start) changes nothing.
    file_manager::install_linux(&home, &exe).unwrap();
    let written = file_manager::install_linux(&home, &exe).unwrap();
    assert_eq!(written.len(), 4);

    let entries = file_manager::linux_entries(&home, &exe);
    let by = |name: &str| -> &EntryFile { entries.iter().find(|e| e.file_manager == name).unwrap() };

    // Nautilus: an executable script in its scripts folder, named as the
    // menu shows it, given the selection as arguments relative to the folder.
    let nautilus = by("Nautilus");
    assert_eq!(
        nautilus.path,
        home.join(".local/share/nautilus/scripts/Copy share link")
    );
    assert!(is_executable(&nautilus.path));
    assert!(Command::new("sh")
        .arg("-n")
        .arg(&nautilus.path)
        .status()
        .unwrap()
        .success());
    let status = Command::new(&nautilus.path)
        .args(FILES)
        .current_dir(&selected)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(recorded(&exe), ["--share", FILES[0], FILES[1]]);

    // Nemo: a [Nemo Action] for any selection.
    let nemo = by("Nemo");
    assert_eq!(
        nemo.path,
        home.join(".local/share/nemo/actions/drive-copy-share-link.nemo_action")
    );
    let groups = key_file(&std::fs::read_to_string(&nemo.path).unwrap());
    assert_eq!(value(&groups, "Nemo Action", "Name"), "Copy share link");
    assert_eq!(value(&groups, "Nemo Action", "Selection"), "notnone");
    assert_eq!(value(&groups, "Nemo Action", "Extensions"), "any;");
    run(&desktop_exec(value(&groups, "Nemo Action", "Exec"), &files), &selected);
    assert_eq!(recorded(&exe), expected(&selected));

    // Dolphin: an executable KIO service menu for all files and folders.
    let dolphin = by("Dolphin");
    assert_eq!(
        dolphin.path,
        home.join(".local/share/kio/servicemenus/drive-copy-share-link.desktop")
    );
    assert!(is_executable(&dolphin.path));
    let groups = key_file(&std::fs::read_to_string(&dolphin.path).unwrap());
    assert_eq!(value(&groups, "Desktop Entry", "Type"), "Service");
    assert_eq!(value(&groups, "Desktop Entry", "MimeType"), "all/all;");
    assert_eq!(
        value(&groups, "Desktop Entry", "X-KDE-ServiceTypes"),
        "KonqPopupMenu/Plugin"
    );
    assert_eq!(value(&groups, "Desktop Entry", "Actions"), "copyShareLink;");
    assert_eq!(
        value(&groups, "Desktop Action copyShareLink", "Name"),
        "Copy share link"
    );
    run(
        &desktop_exec(value(&groups, "Desktop Action copyShareLink", "Exec"), &files),
        &selected,
    );
    assert_eq!(recorded(&exe), expected(&selected));

    // Thunar: one action of ours among the user's, matching everything;
    // Thunar quotes each %F path for the shell.
    let xml = std::fs::read_to_string(&thunar).unwrap();
    let document = roxmltree::Document::parse(&xml).expect("uca.xml is valid XML");
    let actions: Vec<_> = document
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("action"))
        .collect();
    assert_eq!(actions.len(), 2, "{xml}");
    let ours = actions
        .iter()
        .find(|a| {
            a.children()
                .any(|c| c.has_tag_name("unique-id") && c.text() == Some("drive-copy-share-link"))
        })
        .expect("our action");
    let text = |tag: &str| {
        ours.children()
            .find(|c| c.has_tag_name(tag))
            .and_then(|c| c.text())
            .unwrap_or("")
    };
    assert_eq!(text("name"), "Copy share link");
    assert_eq!(text("patterns"), "*");
    for kind in ["directories", "other-files", "text-files", "image-files"] {
        assert!(ours.children().any(|c| c.has_tag_name(kind)), "no <{kind}/>");
    }
    let quoted: Vec<String> = files.iter().map(|f| shell_quote(f)).collect();
    let command = text("command").replace("%F", &quoted.join(" "));
    let status = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(&selected)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(recorded(&exe), expected(&selected));

    file_manager::uninstall_linux(&home).unwrap();
    for entry in &entries {
        assert!(!entry.path.exists(), "{} is left", entry.path.display());
    }
    let xml = std::fs::read_to_string(&thunar).unwrap();
    let document = roxmltree::Document::parse(&xml).expect("uca.xml is still valid");
    let names: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("name"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(names, ["Open Terminal Here"]);
    // Removing again is fine.
    file_manager::uninstall_linux(&home).unwrap();
}

#[test]
fn thunar_file_is_created_when_missing() {
    let xml = file_manager::thunar_merge(None, Path::new("/opt/drive/drive-desktop"));
    let document = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(document.root_element().tag_name().name(), "actions");
    assert_eq!(document.descendants().filter(|n| n.has_tag_name("action")).count(), 1);
}

#[test]
fn windows_verb_runs_the_app_for_files_and_folders() {
    let exe = Path::new(r"C:\Users\Ann Lee\AppData\Local\Drive\drive-desktop.exe");
    let values = file_manager::windows_registry(exe);
    for class in ["*", "Directory"] {
        let key = format!(r"Software\Classes\{class}\shell\drive-copy-share-link");
        let get = |key: &str, name: Option<&str>| {
            values
                .iter()
                .find(|v| v.key == key && v.name == name)
                .map(|v| v.data.clone())
                .unwrap_or_else(|| panic!("no {key} {name:?}"))
        };
        assert_eq!(get(&key, None), "Copy share link");
        assert_eq!(
            get(&format!(r"{key}\command"), None),
            format!("\"{}\" --share \"%1\"", exe.display())
        );
    }
    // Everything is under the user's own hive (the caller adds HKCU\).
    assert!(values.iter().all(|v| v.key.starts_with(r"Software\Classes\")));
}

#[test]
fn macos_quick_action_is_a_valid_workflow_running_the_app() {
    let temp = tempfile::tempdir().unwrap();
    let exe = fake_app(temp.path());
    let files = file_manager::macos_quick_action(temp.path(), &exe);
    assert_eq!(files.len(), 2);
    let mut script = None;
    for file in &files {
        assert!(file
            .path
            .starts_with(temp.path().join("Library/Services/Copy share link.workflow/Contents")));
        // Property lists declare Apple's DTD.
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let document = roxmltree::Document::parse_with_options(&file.contents, options).expect("a valid plist");
        assert_eq!(document.root_element().tag_name().name(), "plist");
        let keys: Vec<_> = document.descendants().filter(|n| n.has_tag_name("key")).collect();
        if let Some(key) = keys.iter().find(|k| k.text() == Some("COMMAND_STRING")) {
            let value = key.next_sibling_element().and_then(|v| v.text()).map(str::to_owned);
            script = value;
        }
    }
    // Finder passes the selected items as arguments to the shell script.
    let script = script.expect("a shell script");
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .args(FILES.map(|f| format!("/Users/ann/Drive/{f}")))
        .status()
        .unwrap();
    assert!(status.success());
    let mut want = vec!["--share".to_owned()];
    want.extend(FILES.map(|f| format!("/Users/ann/Drive/{f}")));
    assert_eq!(recorded(&exe), want);
}
