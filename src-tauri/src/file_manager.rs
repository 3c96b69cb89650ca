//! The "Copy share link" entry in file managers' right-click menus, per user
//! and without root: a Nautilus script, a Nemo action, a Dolphin service
//! menu, a Thunar custom action; on Windows an Explorer verb in the user's
//! registry hive, on macOS a Quick Action. Each runs
//! `drive-desktop --share FILES...`, which hands the files to the running app
//! over its socket (or becomes the app when none runs).

use std::{
    io,
    path::{Path, PathBuf},
};

/// Shown in the menus.
pub const LABEL: &str = "Copy share link";
/// Names our files and entries, so that removing finds exactly ours.
const ID: &str = "drive-copy-share-link";
const THUNAR_BEGIN: &str = "<!-- drive-copy-share-link begin -->";
const THUNAR_END: &str = "<!-- drive-copy-share-link end -->";

/// One file this module writes, for one file manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFile {
    pub file_manager: &'static str,
    pub path: PathBuf,
    pub contents: String,
    pub executable: bool,
}

/// A value under `HKEY_CURRENT_USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryValue {
    pub key: String,
    /// `None` for the key's default value.
    pub name: Option<&'static str>,
    pub data: String,
}

/// An argument for a desktop entry's `Exec` (freedesktop quoting rules).
fn desktop_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.+,:@".contains(c)) {
        return arg.to_owned();
    }
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    // Desktop files unescape backslashes once more as a string value.
    quoted.replace('\\', "\\\\")
}

/// An argument for a POSIX shell.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The Linux file managers' files, except Thunar's shared one.
pub fn linux_entries(home: &Path, exe: &Path) -> Vec<EntryFile> {
    let exe_text = exe.to_string_lossy();
    let data = home.join(".local/share");
    vec![
        EntryFile {
            file_manager: "Nautilus",
            path: data.join("nautilus/scripts").join(LABEL),
            contents: format!(
                "#!/bin/sh\n# Installed by Drive: copies a public link to the selected files.\n\
                 # Nautilus passes them as arguments, relative to the current folder.\n\
                 exec {} --share \"$@\"\n",
                shell_quote(&exe_text)
            ),
            executable: true,
        },
        EntryFile {
            file_manager: "Nemo",
            path: data.join("nemo/actions").join(format!("{ID}.nemo_action")),
            contents: format!(
                "[Nemo Action]\nName={LABEL}\nComment=Copy a public link to this item (Drive)\n\
                 Exec={} --share %F\nIcon-Name=emblem-shared\nSelection=notnone\nExtensions=any;\n",
                desktop_quote(&exe_text)
            ),
            executable: false,
        },
        EntryFile {
            file_manager: "Dolphin",
            path: data.join("kio/servicemenus").join(format!("{ID}.desktop")),
            contents: format!(
                "[Desktop Entry]\nType=Service\nMimeType=all/all;\n\
                 X-KDE-ServiceTypes=KonqPopupMenu/Plugin\nActions=copyShareLink;\n\n\
                 [Desktop Action copyShareLink]\nName={LABEL}\nIcon=emblem-shared\nExec={} --share %F\n",
                desktop_quote(&exe_text)
            ),
            // Newer KIO runs only executable service menus.
            executable: true,
        },
    ]
}

/// Thunar's custom actions file, with ours replacing any earlier one.
pub fn thunar_path(home: &Path) -> PathBuf {
    home.join(".config/Thunar/uca.xml")
}

fn thunar_action(exe: &Path) -> String {
    let command = format!("{} --share %F", shell_quote(&exe.to_string_lossy()));
    format!(
        "{THUNAR_BEGIN}\n<action>\n\t<icon>emblem-shared</icon>\n\t<name>{LABEL}</name>\n\
         \t<unique-id>{ID}</unique-id>\n\t<command>{}</command>\n\
         \t<description>Copy a public link to this item (Drive)</description>\n\t<patterns>*</patterns>\n\
         \t<range>*</range>\n\t<directories/>\n\t<audio-files/>\n\t<image-files/>\n\t<other-files/>\n\
         \t<text-files/>\n\t<video-files/>\n</action>\n{THUNAR_END}\n",
        xml_escape(&command)
    )
}

fn without_ours(xml: &str) -> String {
    match (xml.find(THUNAR_BEGIN), xml.find(THUNAR_END)) {
        (Some(start), Some(end)) if end > start => {
            let end = end + THUNAR_END.len();
            let end = if xml[end..].starts_with('\n') { end + 1 } else { end };
            format!("{}{}", &xml[..start], &xml[end..])
        }
        _ => xml.to_owned(),
    }
}

/// `existing` (Thunar's file, if any) with our action in it.
pub fn thunar_merge(existing: Option<&str>, exe: &Path) -> String {
    let base = match existing {
        Some(xml) if xml.contains("</actions>") => without_ours(xml),
        _ => "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<actions>\n</actions>\n".to_owned(),
    };
    let at = base.rfind("</actions>").unwrap_or(base.len());
    format!("{}{}{}", &base[..at], thunar_action(exe), &base[at..])
}

/// The Explorer verb for files and folders.
pub fn windows_registry(exe: &Path) -> Vec<RegistryValue> {
    let exe = exe.to_string_lossy();
    ["*", "Directory"]
        .into_iter()
        .flat_map(|class| {
            let key = format!(r"Software\Classes\{class}\shell\{ID}");
            [
                RegistryValue {
                    key: key.clone(),
                    name: None,
                    data: LABEL.to_owned(),
                },
                RegistryValue {
                    key: key.clone(),
                    name: Some("Icon"),
                    data: format!("\"{exe}\""),
                },
                RegistryValue {
                    key: format!(r"{key}\command"),
                    name: None,
                    data: format!("\"{exe}\" --share \"%1\""),
                },
            ]
        })
        .collect()
}

/// The macOS Quick Action (a Services workflow running a shell script).
pub fn macos_quick_action(home: &Path, exe: &Path) -> Vec<EntryFile> {
    let bundle = home.join("Library/Services").join(format!("{LABEL}.workflow/Contents"));
    let script = format!("exec {} --share \"$@\"", shell_quote(&exe.to_string_lossy()));
    let info = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>NSServices</key>
	<array>
		<dict>
			<key>NSMenuItem</key>
			<dict><key>default</key><string>{LABEL}</string></dict>
			<key>NSMessage</key>
			<string>runWorkflowAsService</string>
			<key>NSRequiredContext</key>
			<dict><key>NSApplicationIdentifier</key><string>com.apple.finder</string></dict>
			<key>NSSendFileTypes</key>
			<array><string>public.item</string></array>
		</dict>
	</array>
</dict>
</plist>
"#
    );
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>AMApplicationVersion</key><string>2.10</string>
	<key>actions</key>
	<array>
		<dict>
			<key>action</key>
			<dict>
				<key>AMActionVersion</key><string>2.0.3</string>
				<key>ActionBundlePath</key><string>/System/Library/Automator/Run Shell Script.action</string>
				<key>ActionName</key><string>Run Shell Script</string>
				<key>ActionParameters</key>
				<dict>
					<key>COMMAND_STRING</key><string>{}</string>
					<key>inputMethod</key><integer>1</integer>
					<key>shell</key><string>/bin/sh</string>
				</dict>
				<key>BundleIdentifier</key><string>com.apple.RunShellScript</string>
			</dict>
		</dict>
	</array>
	<key>workflowMetaData</key>
	<dict>
		<key>serviceInputTypeIdentifier</key><string>com.apple.Automator.fileSystemObject</string>
		<key>serviceApplicationBundleID</key><string>com.apple.finder</string>
		<key>workflowTypeIdentifier</key><string>com.apple.Automator.servicesMenu</string>
	</dict>
</dict>
</plist>
"#,
        xml_escape(&script)
    );
    vec![
        EntryFile {
            file_manager: "Finder",
            path: bundle.join("Info.plist"),
            contents: info,
            executable: false,
        },
        EntryFile {
            file_manager: "Finder",
            path: bundle.join("document.wflow"),
            contents: document,
            executable: false,
        },
    ]
}

fn write_entry(entry: &EntryFile) -> io::Result<()> {
    if let Some(dir) = entry.path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&entry.path, &entry.contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if entry.executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry.path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

fn remove_file(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Installs the Linux entries under `home` (idempotent; refreshes the
/// command if the app moved). Returns the files written.
pub fn install_linux(home: &Path, exe: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for entry in linux_entries(home, exe) {
        write_entry(&entry)?;
        written.push(entry.path);
    }
    let thunar = thunar_path(home);
    let existing = std::fs::read_to_string(&thunar).ok();
    write_entry(&EntryFile {
        file_manager: "Thunar",
        path: thunar.clone(),
        contents: thunar_merge(existing.as_deref(), exe),
        executable: false,
    })?;
    written.push(thunar);
    Ok(written)
}

/// Removes what [`install_linux`] wrote, leaving the rest of Thunar's actions.
pub fn uninstall_linux(home: &Path) -> io::Result<()> {
    for entry in linux_entries(home, Path::new("")) {
        remove_file(&entry.path)?;
    }
    let thunar = thunar_path(home);
    if let Ok(xml) = std::fs::read_to_string(&thunar) {
        let rest = without_ours(&xml);
        if rest != xml {
            std::fs::write(&thunar, rest)?;
        }
    }
    Ok(())
}

/// Installs the entries of the platform this runs on.
pub fn install(home: &Path, exe: &Path) -> io::Result<()> {
    if cfg!(target_os = "windows") {
        for value in windows_registry(exe) {
            let mut reg = std::process::Command::new("reg");
            reg.args(["add", &format!(r"HKCU\{}", value.key), "/f", "/d", &value.data]);
            match value.name {
                Some(name) => reg.args(["/v", name]),
                None => reg.arg("/ve"),
            };
            let status = reg.status()?;
            if !status.success() {
                return Err(io::Error::other(format!("reg add {} failed", value.key)));
            }
        }
        Ok(())
    } else if cfg!(target_os = "macos") {
        macos_quick_action(home, exe).iter().try_for_each(write_entry)
    } else {
        install_linux(home, exe).map(drop)
    }
}

/// Removes the entries of the platform this runs on.
pub fn uninstall(home: &Path) -> io::Result<()> {
    if cfg!(target_os = "windows") {
        for class in ["*", "Directory"] {
            let key = format!(r"HKCU\Software\Classes\{class}\shell\{ID}");
            // A missing key is what we want.
            let _ = std::process::Command::new("reg").args(["delete", &key, "/f"]).status();
        }
        Ok(())
    } else if cfg!(target_os = "macos") {
        match std::fs::remove_dir_all(home.join("Library/Services").join(format!("{LABEL}.workflow"))) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    } else {
        uninstall_linux(home)
    }
}
