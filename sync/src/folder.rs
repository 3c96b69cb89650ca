//! A synced folder's own state dir (`.drive`): the lock that lets one engine
//! at a time sync it, the link that ties it to one account on one server,
//! the temp files of downloads, and the local trash where deletions the
//! server caused are kept, recoverable, for [`TRASH_DAYS`] days.

use std::{
    io::ErrorKind,
    path::{Path, PathBuf},
};

use chrono::NaiveDate;

use crate::{
    fs::{Fs, LockGuard, SharedFs},
    io_error::{io_err, IoError},
    scanner::{local_path, STATE_DIR},
    transfer::PARTIAL_PREFIX,
};

/// How long deletions caused by the server stay recoverable.
pub const TRASH_DAYS: u64 = 30;
const LOCK_FILE: &str = "lock";
const LINK_FILE: &str = "link.json";
const TMP_DIR: &str = "tmp";
const TRASH_DIR: &str = "trash";
/// Trashes of one day, for one path deleted again and again.
const MAX_TRASH_TWINS: usize = 100;

/// Where downloads are written before they take their place: the state
/// dir's temp folder of the folder at `root`.
pub fn temp_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(TMP_DIR)
}

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{} is already being synced by another drive client (the `drive` command or the desktop app); stop it first", .0.display())]
    Busy(PathBuf),
    #[error(
        "{folder} is linked to {linked}, not to {current}: syncing it with another account or server could \
         delete or overwrite its files. Sign in as {linked}, or run `drive unlink {folder}` to forget the link \
         (the next sync then compares contents and deletes nothing)"
    )]
    LinkedElsewhere {
        folder: String,
        linked: String,
        current: String,
    },
    #[error(
        "{0} looks empty or replaced (its .drive/link.json is gone, but it was synced): if it is a disk that is \
         not mounted, mount it; to sync it anew as it is, run `drive unlink {0}` (the next sync compares and \
         deletes nothing)"
    )]
    Replaced(String),
    #[error("{path}: the folder's link is damaged ({why}); run `drive unlink {folder}` to sync it anew")]
    BadLink { folder: String, path: String, why: String },
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Which account on which server a folder syncs with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub server: String,
    pub user_id: i64,
    pub email: String,
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.email, self.server)
    }
}

impl Link {
    /// Same account on the same server (an email may change; the id does not).
    pub fn same_account(&self, other: &Link) -> bool {
        self.server.trim_end_matches('/') == other.server.trim_end_matches('/') && self.user_id == other.user_id
    }
}

/// The state dir of a synced folder.
pub struct StateDir {
    fs: SharedFs,
    root: PathBuf,
    dir: PathBuf,
    /// Held while this engine syncs the folder; released on drop.
    lock: Option<LockGuard>,
}

impl std::fmt::Debug for StateDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDir")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl StateDir {
    /// Creates the state dir. With `lock`, takes the folder's lock (or
    /// fails with [`FolderError::Busy`]) and clears what an engine killed
    /// earlier left behind: download temp files, trash past its time.
    pub fn open(fs: SharedFs, root: &Path, lock: bool) -> Result<Self, FolderError> {
        let dir = root.join(STATE_DIR);
        fs.create_dir_all(&dir.join(TMP_DIR))
            .map_err(io_err("creating the state dir"))?;
        let mut state = Self {
            fs,
            root: root.to_path_buf(),
            dir,
            lock: None,
        };
        if lock {
            let guard = state
                .fs
                .try_lock(&state.dir.join(LOCK_FILE))
                .map_err(io_err("locking the folder"))?;
            state.lock = Some(guard.ok_or_else(|| FolderError::Busy(root.to_path_buf()))?);
            state.clean_tmp();
            state.purge_old_trash();
        }
        Ok(state)
    }

    pub fn tmp(&self) -> PathBuf {
        temp_dir(&self.root)
    }

    /// The link recorded in the folder, if any; a link that cannot be read
    /// is an error, never taken for none.
    pub fn link(&self) -> Result<Option<Link>, FolderError> {
        let path = self.dir.join(LINK_FILE);
        let bad = |why: String| FolderError::BadLink {
            folder: self.root.display().to_string(),
            path: path.display().to_string(),
            why,
        };
        match self.fs.read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| bad(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // Unreadable is not damaged: a failing disk is told as such.
            Err(e) => Err(io_err(format!("reading {}", path.display()))(e).into()),
        }
    }

    /// Ties the folder to `current` (when syncing: a look writes nothing),
    /// or refuses if it is tied to another account or server. `synced`:
    /// the ledger says this folder was synced (and linked) before, so a
    /// missing link means the folder was replaced or its disk is not
    /// mounted.
    pub fn check_link(&self, current: &Link, synced: bool) -> Result<(), FolderError> {
        match self.link()? {
            Some(linked) if linked.same_account(current) => {
                if linked != *current && self.lock.is_some() {
                    self.write_link(current)?;
                }
                Ok(())
            }
            Some(linked) => Err(FolderError::LinkedElsewhere {
                folder: self.root.display().to_string(),
                linked: linked.to_string(),
                current: current.to_string(),
            }),
            None if synced => Err(FolderError::Replaced(self.root.display().to_string())),
            None if self.lock.is_some() => self.write_link(current),
            // Only looked at (`drive status`): the sync links it.
            None => Ok(()),
        }
    }

    fn write_link(&self, link: &Link) -> Result<(), FolderError> {
        let json = serde_json::to_vec_pretty(link).unwrap_or_default();
        let tmp = self.dir.join(format!("{LINK_FILE}.tmp"));
        self.fs
            .write(&tmp, &json)
            .and_then(|()| self.fs.rename(&tmp, &self.dir.join(LINK_FILE)))
            .map_err(io_err("writing the folder's link"))?;
        Ok(())
    }

    /// Forgets the folder's link (`drive unlink`).
    pub fn unlink(fs: &dyn Fs, root: &Path) -> std::io::Result<()> {
        match fs.remove_file(&root.join(STATE_DIR).join(LINK_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn clean_tmp(&self) {
        let tmp = self.tmp();
        for name in self.fs.read_dir(&tmp).unwrap_or_default() {
            let path = tmp.join(&name);
            let name = name.to_string_lossy();
            // Partial downloads and probes are nobody's; anything else may
            // be a user's file a swap left here: recoverable in the trash.
            if name.starts_with(PARTIAL_PREFIX) || name.contains("-probe-") {
                let _ = self.fs.remove_file(&path);
            } else if let Err(error) = self.trash(&format!("left by an interrupted sync/{name}"), &path) {
                tracing::warn!(%error, "cannot clear the state dir's temp files");
            }
        }
    }

    /// Moves a local file deleted by the server (`rel`, at `source` on
    /// disk) into the trash, under `trash/YYYY-MM-DD/` at its relative path,
    /// rather than deleting it. Where that path is taken (the same path
    /// deleted twice in a day, or a file where a folder must go), into
    /// `trash/YYYY-MM-DD 2/` and so on.
    pub fn trash(&self, rel: &str, source: &Path) -> Result<PathBuf, FolderError> {
        let day = chrono::Local::now().format("%Y-%m-%d").to_string();
        let trash = self.dir.join(TRASH_DIR);
        for n in 1..=MAX_TRASH_TWINS {
            let base = match n {
                1 => trash.join(&day),
                n => trash.join(format!("{day} {n}")),
            };
            let target = local_path(&base, rel);
            if self.fs.exists(&target) {
                continue;
            }
            if let Some(parent) = target.parent() {
                match self.fs.create_dir_all(parent) {
                    Ok(()) => {}
                    Err(e) if matches!(e.kind(), ErrorKind::AlreadyExists | ErrorKind::NotADirectory) => continue,
                    Err(e) => return Err(io_err("creating the local trash")(e).into()),
                }
            }
            self.fs
                .rename(source, &target)
                .map_err(io_err(format!("moving {rel} to the trash")))?;
            return Ok(target);
        }
        let full = std::io::Error::other(format!("{MAX_TRASH_TWINS} copies of it are in today's trash"));
        Err(io_err(format!("moving {rel} to the trash"))(full).into())
    }

    /// Deletes the days of trash older than [`TRASH_DAYS`].
    pub fn purge_old_trash(&self) {
        self.purge_trash(chrono::Local::now().date_naive());
    }

    /// Deletes the days of trash more than [`TRASH_DAYS`] before `today`,
    /// by the day each folder is named after (its mtime changes as files
    /// land in it). Folders not named after a day are not ours: kept.
    fn purge_trash(&self, today: NaiveDate) {
        let trash = self.dir.join(TRASH_DIR);
        for name in self.fs.read_dir(&trash).unwrap_or_default() {
            let day = name
                .to_str()
                .and_then(|n| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok());
            if day.is_some_and(|day| (today - day).num_days() > TRASH_DAYS as i64) {
                let _ = self.fs.remove_dir_all(&trash.join(name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::DiskFs;

    fn link(server: &str, user_id: i64) -> Link {
        Link {
            server: server.into(),
            user_id,
            email: format!("user{user_id}@example.com"),
        }
    }

    #[test]
    fn one_engine_at_a_time_and_stale_temp_files_go() {
        let root = tempfile::tempdir().unwrap();
        let first = StateDir::open(DiskFs::shared(), root.path(), true).unwrap();
        std::fs::write(first.tmp().join("download-1"), b"torn").unwrap();
        std::fs::write(first.tmp().join("ready-1"), b"swapped out").unwrap();
        assert!(matches!(
            StateDir::open(DiskFs::shared(), root.path(), true),
            Err(FolderError::Busy(_))
        ));
        // Observers (status) do not lock and do not clean.
        let observer = StateDir::open(DiskFs::shared(), root.path(), false).unwrap();
        assert!(observer.tmp().join("download-1").exists());
        drop(first);
        let second = StateDir::open(DiskFs::shared(), root.path(), true).unwrap();
        assert!(
            !second.tmp().join("download-1").exists(),
            "the killed download's temp file is cleaned"
        );
        let trash = drive_e2e::snapshot(&root.path().join(".drive/trash"));
        assert!(
            trash
                .keys()
                .any(|path| path.ends_with("left by an interrupted sync/ready-1")),
            "what a swap left is kept: {trash:?}"
        );
    }

    #[test]
    fn a_folder_belongs_to_one_account_on_one_server() {
        let root = tempfile::tempdir().unwrap();
        // Only looked at (`drive status`): nothing is linked.
        let observer = StateDir::open(DiskFs::shared(), root.path(), false).unwrap();
        observer.check_link(&link("http://a", 1), false).unwrap();
        assert_eq!(observer.link().unwrap(), None);
        let state = StateDir::open(DiskFs::shared(), root.path(), true).unwrap();
        assert!(matches!(
            state.check_link(&link("http://a", 1), true),
            Err(FolderError::Replaced(_))
        ));
        state.check_link(&link("http://a", 1), false).unwrap();
        state.check_link(&link("http://a/", 1), true).unwrap();
        let other_user = state.check_link(&link("http://a", 2), true).unwrap_err().to_string();
        assert!(other_user.contains("user1@example.com on http://a"), "{other_user}");
        assert!(other_user.contains("user2@example.com on http://a"), "{other_user}");
        assert!(state.check_link(&link("http://b", 1), true).is_err());
        std::fs::write(root.path().join(".drive/link.json"), b"{garbage").unwrap();
        assert!(matches!(
            state.check_link(&link("http://a", 1), true),
            Err(FolderError::BadLink { .. })
        ));
        StateDir::unlink(&DiskFs, root.path()).unwrap();
        state.check_link(&link("http://b", 1), false).unwrap();
    }

    #[test]
    fn deletions_go_to_a_dated_trash_and_old_days_are_purged() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        std::fs::write(root.path().join("a/x.txt"), b"1").unwrap();
        let state = StateDir::open(DiskFs::shared(), root.path(), false).unwrap();
        let file = root.path().join("a/x.txt");
        let kept = state.trash("a/x.txt", &file).unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), b"1");
        std::fs::write(root.path().join("a/x.txt"), b"2").unwrap();
        let again = state.trash("a/x.txt", &file).unwrap();
        assert_ne!(kept, again, "a second deletion of the same path keeps both");
        let today = chrono::Local::now().date_naive();
        state.purge_trash(today + chrono::Days::new(TRASH_DAYS));
        assert!(kept.exists(), "kept for its 30 days");
        std::fs::create_dir_all(root.path().join(".drive/trash/mine")).unwrap();
        state.purge_trash(today + chrono::Days::new(TRASH_DAYS + 1));
        assert!(!kept.exists());
        assert!(root.path().join(".drive/trash/mine").exists(), "not a day: not ours");
    }
}
