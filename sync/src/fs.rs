//! The engine's one door to the local file system. Everything the engine
//! reads or writes under a synced folder goes through [`Fs`]: the real disk
//! ([`DiskFs`]) in the product, a file system in memory in the simulation
//! (case-insensitive, Windows-like, crashing), so that both run the same
//! engine code.

use std::{
    any::Any,
    ffi::OsString,
    fmt,
    fs::File,
    io::{self, Read, Seek, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

/// What kind of item a path names (links are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    /// Sockets, devices, pipes: never synced.
    Other,
}

/// The stats the engine keeps of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: FileKind,
    pub len: u64,
    pub mtime_ns: i64,
    /// 0 where the file system has none.
    pub inode: u64,
}

impl Meta {
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }

    pub fn is_file(&self) -> bool {
        self.kind == FileKind::File
    }
}

/// A file open for reading.
pub trait ReadFile: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadFile for T {}

/// A file open for writing.
pub trait WriteFile: Write + Send {
    /// Makes what was written durable (survives a crash).
    fn sync_all(&mut self) -> io::Result<()>;

    /// Starts writing what was written so far to the disk, without waiting
    /// and without any promise (a hint: a later [`WriteFile::sync_all`],
    /// which reports failures, then has less to wait for).
    fn start_sync(&mut self) {}
}

impl WriteFile for File {
    fn sync_all(&mut self) -> io::Result<()> {
        File::sync_all(self)
    }

    #[cfg(target_os = "linux")]
    fn start_sync(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is this open file's; the call reads
        // nothing from memory. Its outcome is left to `sync_all`.
        unsafe { libc::sync_file_range(self.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
}

/// A held lock; dropping it releases the lock.
pub type LockGuard = Box<dyn Any + Send + Sync>;

pub trait Fs: Send + Sync + fmt::Debug + 'static {
    /// The item at `path`, links not followed.
    fn metadata(&self, path: &Path) -> io::Result<Meta>;
    /// The names in the folder at `path`, in no particular order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>>;
    /// Creates or truncates the file at `path`.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    /// Creates or truncates the file at `path` for one long write that
    /// nothing reads soon (a large download): around the page cache where
    /// the file system can.
    fn create_unbuffered(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        self.create(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing a file there.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Renames `from` to `to` if nothing is there (`AlreadyExists` if
    /// something is), in one step where the file system can.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Swaps two items in one step; `Unsupported` where the file system
    /// cannot.
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty folder.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    fn set_mtime(&self, path: &Path, mtime_ns: i64) -> io::Result<()>;
    /// Writes a new file at `path` in one step: `bytes`, modified at
    /// `mtime_ns`, durable before its name appears, so no partial file is
    /// ever under `path`, not even after a crash. Fails with `AlreadyExists`
    /// if `path` is taken, `NotFound` if its folder is missing, and
    /// `Unsupported` where the file system cannot (the caller then writes a
    /// temp file and renames it). Returns the new file's stats.
    fn write_new(&self, path: &Path, bytes: &[u8], mtime_ns: i64) -> io::Result<Meta> {
        let _ = (path, bytes, mtime_ns);
        Err(io::ErrorKind::Unsupported.into())
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// Takes an exclusive lock on the file at `path` (created if missing),
    /// held until the guard drops; `None` if someone else holds it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>>;
    /// Whether calls may block (a real disk): the engine then makes them
    /// on the blocking pool, off the async workers.
    fn blocks(&self) -> bool {
        true
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(path)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Writes `bytes` as the whole file, durably.
    fn write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = self.create(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn exists(&self, path: &Path) -> bool {
        self.metadata(path).is_ok()
    }
}

/// The file system the engine runs on.
pub type SharedFs = Arc<dyn Fs>;

/// Runs `f` where file system calls belong: on the blocking pool for a real
/// disk, at once for one in memory (which keeps a simulation deterministic).
pub async fn offload<T: Send + 'static>(fs: &SharedFs, f: impl FnOnce(&dyn Fs) -> T + Send + 'static) -> T {
    if !fs.blocks() {
        return f(fs.as_ref());
    }
    let fs = fs.clone();
    match tokio::task::spawn_blocking(move || f(fs.as_ref())).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Makes something at `path` (`make`), its folder first if that is not
/// there yet (a file's folder may be made by the same pass, or removed).
pub fn in_its_folder<T>(fs: &dyn Fs, path: &Path, make: impl Fn() -> io::Result<T>) -> io::Result<T> {
    make().or_else(|e| match path.parent() {
        Some(parent) if e.kind() == io::ErrorKind::NotFound => {
            fs.create_dir_all(parent)?;
            make()
        }
        _ => Err(e),
    })
}

/// The real disk.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiskFs;

impl DiskFs {
    pub fn shared() -> SharedFs {
        Arc::new(DiskFs)
    }
}

impl Fs for DiskFs {
    fn metadata(&self, path: &Path) -> io::Result<Meta> {
        Ok(meta_of(&std::fs::symlink_metadata(path)?))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect()
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        Ok(Box::new(File::open(path)?))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(File::create(path)?))
    }

    #[cfg(target_os = "linux")]
    fn create_unbuffered(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        direct::create(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        match linux::renameat2(from, to, libc::RENAME_NOREPLACE) {
            // Not every file system has it (FUSE ones may not).
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {}
            other => return other,
        }
        // Elsewhere a check then a rename: a new file in between is lost to
        // the rename, in a window of microseconds.
        match std::fs::symlink_metadata(to) {
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", to.display()),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::rename(from, to),
            Err(e) => Err(e),
        }
    }

    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        match linux::renameat2(a, b, libc::RENAME_EXCHANGE) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {}
            other => return other,
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the file system cannot swap two files",
        ))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn set_mtime(&self, path: &Path, mtime_ns: i64) -> io::Result<()> {
        filetime::set_file_mtime(path, file_time(mtime_ns))
    }

    /// An unnamed file made in `path`'s folder (`O_TMPFILE`), written,
    /// synced, then given its name (`linkat`, which never replaces). Made in
    /// the folder it goes to, many small downloads side by side neither
    /// queue on one temp folder's lock nor cross folders with a rename. A
    /// crash before the link leaves nothing behind.
    #[cfg(target_os = "linux")]
    fn write_new(&self, path: &Path, bytes: &[u8], mtime_ns: i64) -> io::Result<Meta> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => return Err(io::ErrorKind::InvalidInput.into()),
        };
        let mut file = File::options()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o666)
            .open(dir)
            .map_err(|e| match e.raw_os_error() {
                // Not on this file system (FUSE ones, older kernels).
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL) => io::ErrorKind::Unsupported.into(),
                _ => e,
            })?;
        file.write_all(bytes)?;
        filetime::set_file_handle_times(&file, None, Some(file_time(mtime_ns)))?;
        file.sync_all()?;
        // Taken before the name appears: an edit made right after must read
        // as a change.
        let meta = meta_of(&file.metadata()?);
        linux::link_open_file(&file, path)?;
        Ok(meta)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let file = File::options().create(true).truncate(false).write(true).open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// A modification time in nanoseconds since the epoch, as the disk takes it.
fn file_time(mtime_ns: i64) -> filetime::FileTime {
    filetime::FileTime::from_system_time(UNIX_EPOCH + Duration::from_nanos(mtime_ns.max(0) as u64))
}

/// The engine's stats of an item, from the disk's.
fn meta_of(meta: &std::fs::Metadata) -> Meta {
    let file_type = meta.file_type();
    let kind = if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_dir() {
        FileKind::Dir
    } else if file_type.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Meta {
        kind,
        len: meta.len(),
        mtime_ns,
        inode,
    }
}

#[cfg(target_os = "linux")]
mod direct;

#[cfg(target_os = "linux")]
mod linux {
    use std::{
        ffi::CString,
        fs::File,
        io,
        os::{fd::AsRawFd, unix::ffi::OsStrExt},
        path::Path,
    };

    /// Gives an unnamed open file (`O_TMPFILE`) the name `to`, through its
    /// `/proc/self/fd` link; fails with `AlreadyExists` if `to` is taken,
    /// and `Unsupported` without `/proc`.
    pub fn link_open_file(file: &File, to: &Path) -> io::Result<()> {
        let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
        let from = CString::new(proc.as_str()).map_err(io::Error::from)?;
        let to = CString::new(to.as_os_str().as_bytes()).map_err(io::Error::from)?;
        // SAFETY: both paths are valid NUL-terminated strings that outlive
        // the call, which reads them and nothing else.
        let result = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        match result {
            0 => Ok(()),
            _ => {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::NotFound if !Path::new(&proc).exists() => Err(io::ErrorKind::Unsupported.into()),
                    _ => Err(error),
                }
            }
        }
    }

    /// `renameat2(2)` with `flags`.
    pub fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> io::Result<()> {
        let c = |path: &Path| CString::new(path.as_os_str().as_bytes()).map_err(io::Error::from);
        let (from, to) = (c(from)?, c(to)?);
        // SAFETY: both paths are valid NUL-terminated strings that outlive
        // the call, which reads them and nothing else.
        let result = unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), flags) };
        match result {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_appears_whole_with_its_time_and_never_replaces_one() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let fs = DiskFs;
        let path = dir.path().join("new.txt");
        let mtime_ns = 1_600_000_000_123_456_789;
        let written = match fs.write_new(&path, b"hello", mtime_ns) {
            // Only where the file system has no unnamed files.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => return,
            other => other.expect("written"),
        };
        assert_eq!(fs.read(&path).expect("read"), b"hello");
        assert_eq!(fs.metadata(&path).expect("stats"), written);
        assert_eq!((written.len, written.mtime_ns), (5, mtime_ns));

        let taken = fs.write_new(&path, b"other", 0).expect_err("the name is taken");
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs.read(&path).expect("read"), b"hello");

        let missing = fs.write_new(&dir.path().join("no/such/folder"), b"x", 0);
        assert_eq!(missing.expect_err("no folder").kind(), io::ErrorKind::NotFound);
        // Nothing else was left in the folder.
        assert_eq!(
            fs.read_dir(dir.path()).expect("listed"),
            vec![OsString::from("new.txt")]
        );
    }
}
