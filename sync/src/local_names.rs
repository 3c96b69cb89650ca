//! Which names this folder's file system can hold. Every name that comes
//! from the server is untrusted input: it passes the wire rule again, then
//! the local file system's own rules, before it is joined onto a local path.
//! A name that fails stays on the server and is reported, never deleted.
//!
//! The server's rule is wider (any NFC name without `/` or NUL), so each
//! client adapts to its disk: Windows (and FAT/exFAT drives anywhere) refuse
//! `<>:"\|?*`, control characters, reserved device names and a trailing dot
//! or space; case-insensitive file systems (macOS and Windows defaults,
//! FAT/exFAT) hold one of `Report.txt` and `report.txt`, so the later one
//! gets a local alias (see [`case_alias`]).

use std::{
    io::ErrorKind,
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use drive_wire::names::validate_name;

use crate::{fs::Fs, scanner::STATE_DIR};

/// Why a name from the server cannot exist in this folder, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsyncable {
    #[error("the server sent an invalid name: {0}")]
    Invalid(#[from] drive_wire::names::InvalidName),
    #[error("the server sent a name that is not in Unicode NFC form")]
    NotNfc,
    #[error("the name is reserved for this app's own state folder")]
    StateDir,
    #[error("the name contains {0:?}, which this device's file system does not allow")]
    Character(char),
    #[error("the name contains a control character, which this device's file system does not allow")]
    Control,
    #[error("{0} is a reserved device name on this device's file system")]
    Reserved(String),
    #[error("the name ends with a dot or a space, which this device's file system does not allow")]
    TrailingDotOrSpace,
    #[error("its path is longer than this device allows here ({0} bytes under the synced folder)")]
    PathTooLong(usize),
}

/// What the file system under a synced folder accepts, probed at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsRules {
    /// `A` and `a` name the same file (macOS, Windows, FAT/exFAT).
    pub case_insensitive: bool,
    /// Windows' name rules hold (Windows, FAT/exFAT anywhere).
    pub windows_names: bool,
    /// The longest path, in bytes of UTF-8, that fits under the synced
    /// folder: what the platform lets a path name, less the folder's own.
    pub max_path: usize,
}

impl Default for FsRules {
    /// Any valid name, case-sensitive, any length.
    fn default() -> Self {
        Self {
            case_insensitive: false,
            windows_names: false,
            max_path: usize::MAX,
        }
    }
}

/// The longest path the platform's calls take, without its final NUL
/// (`PATH_MAX` on Linux and macOS, `MAX_PATH` on Windows, counted in bytes
/// of UTF-8, which are never fewer than Windows' UTF-16 units).
const PLATFORM_MAX_PATH: usize = if cfg!(windows) {
    259
} else if cfg!(target_os = "macos") {
    1023
} else {
    4095
};

const WINDOWS_CHARACTERS: &[char] = &['<', '>', ':', '"', '\\', '|', '?', '*'];
const WINDOWS_DEVICES: &[&str] = &["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

impl FsRules {
    /// The rules of the platform, before probing.
    pub fn platform() -> Self {
        Self {
            case_insensitive: cfg!(any(windows, target_os = "macos")),
            windows_names: cfg!(windows),
            max_path: PLATFORM_MAX_PATH,
        }
    }

    /// The rules for the synced folder at `root` (an absolute path): the
    /// room left for paths under it.
    pub fn under(mut self, root: &Path) -> Self {
        self.max_path = PLATFORM_MAX_PATH.saturating_sub(root.as_os_str().len() + 1);
        self
    }

    /// Probes the file system of `dir` (the folder's state dir): a file
    /// created in one case is looked up in another, and a name with a
    /// Windows-illegal character is tried. A probe that cannot be made is
    /// an error: guessing wrong would let two names overwrite each other.
    pub fn probe(fs: &dyn Fs, dir: &Path) -> std::io::Result<Self> {
        let mut rules = Self::platform();
        static PROBES: AtomicU32 = AtomicU32::new(0);
        let unique = format!("{}-{}", std::process::id(), PROBES.fetch_add(1, Ordering::Relaxed));
        let lower = dir.join(format!("case-probe-{unique}-a"));
        let upper = dir.join(format!("CASE-PROBE-{unique}-A"));
        drop(fs.create(&lower)?);
        rules.case_insensitive = fs.exists(&upper);
        let _ = fs.remove_file(&lower);
        if !rules.windows_names {
            let colon = dir.join(format!("name-probe-{unique}:a"));
            match fs.create(&colon) {
                Ok(file) => {
                    drop(file);
                    let _ = fs.remove_file(&colon);
                }
                // The name refused: Windows says so, exFAT (FUSE) answers
                // "no such file" (the folder is there: the case probe just
                // wrote in it).
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::InvalidInput | ErrorKind::InvalidFilename | ErrorKind::NotFound
                    ) =>
                {
                    rules.windows_names = true
                }
                Err(e) => return Err(e),
            }
        }
        Ok(rules)
    }

    /// Checks a name from the server before it becomes part of a local path.
    /// `top_level`: the name is directly in the synced folder, where the
    /// state dir lives.
    pub fn check(&self, name: &str, top_level: bool) -> Result<(), Unsyncable> {
        if validate_name(name)? != name {
            return Err(Unsyncable::NotNfc);
        }
        // Whatever the probe found: a folder may move to a disk that folds case.
        if top_level && name.to_lowercase() == STATE_DIR {
            return Err(Unsyncable::StateDir);
        }
        if self.windows_names {
            check_windows(name)?;
        }
        Ok(())
    }

    /// Checks the length of a relative `/`-path under the synced folder.
    pub fn check_length(&self, path: &str) -> Result<(), Unsyncable> {
        match path.len() > self.max_path {
            true => Err(Unsyncable::PathTooLong(self.max_path)),
            false => Ok(()),
        }
    }

    /// Whether a relative `/`-path fits and every name of it passes
    /// [`FsRules::check`] (for paths from the ledger, which an older client,
    /// or the folder in another place, may have written).
    pub fn holds_path(&self, path: &str) -> bool {
        self.check_length(path).is_ok()
            && path
                .split('/')
                .enumerate()
                .all(|(i, name)| self.check(name, i == 0).is_ok())
    }

    /// The key under which this file system tells names apart.
    pub fn fold(&self, name: &str) -> String {
        if self.case_insensitive {
            name.to_lowercase()
        } else {
            name.to_owned()
        }
    }
}

fn check_windows(name: &str) -> Result<(), Unsyncable> {
    if let Some(c) = name.chars().find(|c| WINDOWS_CHARACTERS.contains(c)) {
        return Err(Unsyncable::Character(c));
    }
    if name.chars().any(|c| (c as u32) < 32) {
        return Err(Unsyncable::Control);
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(Unsyncable::TrailingDotOrSpace);
    }
    // `CON`, `con.txt`, `COM1.tar.gz`: the part before the first dot counts.
    let stem = name.split('.').next().unwrap_or(name).trim_end().to_ascii_uppercase();
    // COM1-9 and LPT1-9, and (Windows 10 on) with ¹ ² ³ too.
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            let mut chars = n.chars();
            matches!((chars.next(), chars.next()), (Some('1'..='9' | '¹' | '²' | '³'), None))
        })
    };
    if WINDOWS_DEVICES.contains(&stem.as_str()) || numbered("COM") || numbered("LPT") {
        return Err(Unsyncable::Reserved(stem));
    }
    Ok(())
}

/// The local alias of a remote name that collides with a sibling's on a
/// case-insensitive file system: `report (case conflict).txt`, then
/// `report (case conflict 2).txt`...
pub fn case_alias(name: &str, n: u32) -> String {
    tagged(name, "case conflict", n)
}

/// `NAME (TAG).EXT`, the tag numbered from the second on: `a (TAG 2).txt`.
pub fn tagged(name: &str, tag: &str, n: u32) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    let number = if n > 1 { format!(" {n}") } else { String::new() };
    format!("{stem} ({tag}{number}){ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSIX: FsRules = FsRules {
        case_insensitive: false,
        windows_names: false,
        max_path: usize::MAX,
    };
    const WINDOWS: FsRules = FsRules {
        case_insensitive: true,
        windows_names: true,
        max_path: usize::MAX,
    };

    #[test]
    fn a_path_fits_in_what_the_platform_leaves_under_the_folder() {
        let root = Path::new("/home/someone/Drive");
        let rules = FsRules::platform().under(root);
        assert_eq!(rules.max_path + root.as_os_str().len() + 1, PLATFORM_MAX_PATH);
        let fits = "a".repeat(rules.max_path);
        assert_eq!(rules.check_length(&fits), Ok(()));
        let over = format!("{fits}b");
        assert_eq!(rules.check_length(&over), Err(Unsyncable::PathTooLong(rules.max_path)));
        // A ledger path too long is not held either (and so is forgotten,
        // not deleted).
        let deep = vec!["x".repeat(200); 30].join("/");
        assert!(deep.len() > PLATFORM_MAX_PATH);
        assert!(!rules.holds_path(&deep));
        assert!(POSIX.holds_path(&deep));
    }

    #[test]
    fn the_wire_rule_is_checked_again_on_every_file_system() {
        for rules in [POSIX, WINDOWS] {
            assert!(matches!(rules.check("..", false), Err(Unsyncable::Invalid(_))));
            assert!(matches!(rules.check("../../x", false), Err(Unsyncable::Invalid(_))));
            assert!(matches!(rules.check("a\0b", false), Err(Unsyncable::Invalid(_))));
            assert!(matches!(rules.check("", false), Err(Unsyncable::Invalid(_))));
            assert_eq!(rules.check("e\u{301}.txt", false), Err(Unsyncable::NotNfc));
            assert_eq!(rules.check(".drive", true), Err(Unsyncable::StateDir));
            assert!(rules.check(".drive", false).is_ok(), "only the top level is reserved");
            assert!(rules.check("report.txt", true).is_ok());
        }
        assert_eq!(WINDOWS.check(".DRIVE", true), Err(Unsyncable::StateDir));
        assert_eq!(
            POSIX.check(".DRIVE", true),
            Err(Unsyncable::StateDir),
            "whatever the probe says"
        );
    }

    #[test]
    fn windows_names_refuse_what_windows_refuses() {
        assert!(POSIX.check("a:b.txt", false).is_ok());
        assert!(POSIX.check("C:\\x", false).is_ok());
        assert_eq!(WINDOWS.check("a:b.txt", false), Err(Unsyncable::Character(':')));
        assert_eq!(WINDOWS.check("..\\..\\x", false), Err(Unsyncable::Character('\\')));
        assert_eq!(WINDOWS.check("tab\there", false), Err(Unsyncable::Control));
        assert_eq!(WINDOWS.check("name.", false), Err(Unsyncable::TrailingDotOrSpace));
        assert_eq!(WINDOWS.check("name ", false), Err(Unsyncable::TrailingDotOrSpace));
        for reserved in [
            "CON",
            "con.txt",
            "Nul",
            "COM1",
            "lpt9.tar.gz",
            "aux ",
            "CONIN$",
            "conout$.log",
            "COM¹",
            "lpt³.txt",
        ] {
            assert!(
                matches!(
                    WINDOWS.check(reserved, false),
                    Err(Unsyncable::Reserved(_) | Unsyncable::TrailingDotOrSpace)
                ),
                "{reserved}"
            );
        }
        for fine in ["CONSOLE", "COM10", "COM0", "icon.png", "lpt.txt", "COM⁴", "CONIN"] {
            assert!(WINDOWS.check(fine, false).is_ok(), "{fine}");
        }
    }

    #[test]
    fn aliases_keep_the_extension() {
        assert_eq!(case_alias("report.txt", 1), "report (case conflict).txt");
        assert_eq!(case_alias("Makefile", 2), "Makefile (case conflict 2)");
        assert_eq!(case_alias(".bashrc", 1), ".bashrc (case conflict)");
    }

    #[test]
    fn probing_a_posix_folder_finds_case_and_colons_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let rules = FsRules::probe(&crate::fs::DiskFs, dir.path()).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(rules.max_path, PLATFORM_MAX_PATH);
            assert_eq!(rules.under(Path::new("/")), POSIX.under(Path::new("/")));
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probes are cleaned up"
        );
    }
}
