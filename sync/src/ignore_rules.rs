//! What this device does not sync: built-in patterns for editor and OS
//! droppings, and the folder's `.driveignore` files (gitignore syntax, at any
//! level). The scanner skips ignored paths; the same rules keep ignored
//! remote items from being downloaded, and an ignored path is never read as
//! a deletion on either side.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::remote_tree::ancestors;

/// The ignore file, in gitignore syntax, at any level of the folder.
pub const IGNORE_FILE: &str = ".driveignore";

/// Editor and OS droppings nobody wants synced.
pub const BUILTIN_IGNORES: &[&str] = &[
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    ".~lock.*#",
    "~$*",
    "*.tmp",
    "*.part",
    "*.crdownload",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".directory",
];

/// The ignore rules of one synced folder.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    root: PathBuf,
    builtin: Gitignore,
    /// By the folder (`""` for the root) whose `.driveignore` they come
    /// from: the file's text (to compare rules) and its patterns.
    files: BTreeMap<String, (String, Gitignore)>,
}

/// The same rules: the same folder, and the same `.driveignore` texts.
impl PartialEq for IgnoreRules {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
            && self.files.len() == other.files.len()
            && (self.files.iter().zip(&other.files)).all(|((folder, (text, _)), (other_folder, (other_text, _)))| {
                folder == other_folder && text == other_text
            })
    }
}

impl IgnoreRules {
    /// The built-in patterns alone.
    pub fn new(root: &Path) -> Self {
        let mut builtin = GitignoreBuilder::new(root);
        for pattern in BUILTIN_IGNORES {
            let _ = builtin.add_line(None, pattern);
        }
        Self {
            root: root.to_path_buf(),
            builtin: builtin.build().unwrap_or_else(|_| Gitignore::empty()),
            files: BTreeMap::new(),
        }
    }

    /// Adds the `.driveignore` of the folder at the relative path `folder`
    /// ("" for the root), whose text is `contents`. Lines that are not valid
    /// patterns are left out.
    pub fn add_file(&mut self, folder: &str, contents: &str) {
        // Patterns are relative to the folder as the rules name it (NFC),
        // whatever its spelling on disk.
        let mut builder = GitignoreBuilder::new(crate::scanner::local_path(&self.root, folder));
        for line in contents.lines() {
            let _ = builder.add_line(None, line);
        }
        if let Ok(matcher) = builder.build() {
            self.files.insert(folder.to_owned(), (contents.to_owned(), matcher));
        }
    }

    /// Whether the relative path (or a folder above it) is ignored. The
    /// nearest `.driveignore` that has a say wins (a `!pattern` in a deeper
    /// one re-includes), then the built-in patterns.
    pub fn is_ignored(&self, rel: &str, is_dir: bool) -> bool {
        let path = crate::scanner::local_path(&self.root, rel);
        for folder in ancestors(rel).chain(std::iter::once("")) {
            if let Some((_, matcher)) = self.files.get(folder) {
                let found = matcher.matched_path_or_any_parents(&path, is_dir);
                if found.is_ignore() {
                    return true;
                }
                if found.is_whitelist() {
                    return false;
                }
            }
        }
        self.builtin.matched_path_or_any_parents(&path, is_dir).is_ignore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_ignore_files_at_any_level() {
        let mut rules = IgnoreRules::new(Path::new("/home/ann/Drive"));
        rules.add_file("", "*.log\nbuild/\n");
        rules.add_file("sub", "!keep.log\nsecret.txt\n");
        assert!(rules.is_ignored("notes.tmp", false));
        assert!(rules.is_ignored("deep/down/Thumbs.db", false));
        assert!(rules.is_ignored("app.log", false));
        assert!(rules.is_ignored("build", true));
        assert!(rules.is_ignored("build/out/x.o", false), "under an ignored folder");
        assert!(rules.is_ignored("sub/secret.txt", false));
        assert!(!rules.is_ignored("secret.txt", false), "only under sub/");
        assert!(
            !rules.is_ignored("sub/keep.log", false),
            "re-included by the deeper file"
        );
        assert!(!rules.is_ignored("main.c", false));
        assert!(!rules.is_ignored(IGNORE_FILE, false));
    }
}
