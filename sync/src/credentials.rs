//! Where the client keeps a signed-in session (an opaque secret string, in
//! practice the session's JSON) between runs.
//!
//! Backends, chosen once when the store is opened:
//! - Linux: the desktop keyring through the Secret Service (GNOME Keyring,
//!   KWallet, KeePassXC), probed by writing, reading back and deleting a probe
//!   entry.
//! - macOS / Windows: the system keychain / Credential Manager, probed the same way.
//! - Otherwise (no D-Bus session, no keyring daemon: CI, containers, servers) a
//!   file `HOME/credentials.json`, mode 0600, written atomically, with one
//!   warning per process saying so.
//!
//! The kernel keyring (keyutils) is deliberately *not* part of the automatic
//! chain, although it needs no desktop session: it is memory-only, so a reboot
//! wipes it, and the kernel's persistent keyring also expires a few days after
//! the user logs out (and in user-namespaced containers, as on this project's
//! CI machines, keyring's keyutils store cannot even read back what it wrote). A headless `drive sync` started at boot would then find itself
//! signed out with nothing to tell it why. A 0600 file in the user's home
//! survives reboots and is what other CLIs do (gh, gcloud, docker). Users who
//! prefer "gone at reboot" to "on disk" can opt in with `DRIVE_CREDENTIALS=keyutils`.
//!
//! `DRIVE_CREDENTIALS` picks the backend: `file` (forces the file: tests,
//! headless servers), `keyutils` (Linux only), or `auto` / unset (the chain above).
//!
//! Whatever the backend, `load` falls back to the file when the keyring holds no
//! entry (a session saved by a run that had no keyring stays usable), and
//! `delete` removes the account from both, so signing out leaves nothing behind.
//!
//! The keyring calls block (D-Bus round trips, maybe an unlock prompt); they are
//! made rarely (sign-in, start-up, token refresh), so callers on an async runtime
//! may call them directly or through `spawn_blocking`.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    fs::{self, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Mutex, MutexGuard,
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// Environment variable that picks the backend: `file`, `keyutils` or `auto`.
pub const BACKEND_ENV: &str = "DRIVE_CREDENTIALS";
/// Name of the fallback file inside the client's home directory.
pub const FILE_NAME: &str = "credentials.json";
/// Keyring service name; entries are scoped further by the home directory.
const SERVICE: &str = "drive-sync";
/// How long the keyring may take to answer the probe (a human typing an
/// unlock password fits; a prompt nobody will ever see does not hang us).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The desktop keyring over D-Bus (Linux).
    SecretService,
    /// The Linux kernel keyring: memory only, lost at reboot (opt-in).
    Keyutils,
    /// The macOS keychain or the Windows Credential Manager.
    Native,
    /// A 0600 JSON file in the client's home directory.
    File,
}

impl Backend {
    /// True for every backend but the file.
    pub fn is_keyring(self) -> bool {
        self != Backend::File
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::SecretService => "the desktop keyring (Secret Service)",
            Backend::Keyutils => "the kernel keyring (keyutils, cleared at reboot)",
            Backend::Native if cfg!(target_os = "macos") => "the macOS keychain",
            Backend::Native if cfg!(target_os = "windows") => "the Windows Credential Manager",
            Backend::Native => "the system keyring",
            Backend::File => "a file readable only by you",
        })
    }
}

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("invalid account name {0:?}: it must be non-empty and printable")]
    InvalidAccount(String),
    #[error(
        "{backend} failed to {op} the secret of {account:?} (set {BACKEND_ENV}=file to keep it in a file instead)"
    )]
    Keyring {
        backend: Backend,
        op: &'static str,
        account: String,
        #[source]
        source: keyring::Error,
    },
    #[error("cannot {op} the credentials file {}", path.display())]
    File {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the credentials file {} is damaged (delete it and sign in again)", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = CredentialError> = std::result::Result<T, E>;

/// The client's secret storage. Cheap to clone; holds no secrets itself.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    backend: Backend,
    file: PathBuf,
    /// Keyring service name, including the home directory so that two client
    /// homes on one machine (profiles, tests) never share or delete each
    /// other's sessions.
    service: String,
}

impl CredentialStore {
    /// Opens the store for the client home `home` (which need not exist yet),
    /// picking the backend as the module documentation describes. The keyring
    /// is probed once per process.
    pub fn open(home: &Path) -> CredentialStore {
        let wanted = match std::env::var(BACKEND_ENV) {
            Ok(value) => match value.trim().to_ascii_lowercase().as_str() {
                "file" => Some(Backend::File),
                "keyutils" if cfg!(target_os = "linux") => Some(Backend::Keyutils),
                "" | "auto" | "keyring" => None,
                other => {
                    tracing::warn!("{BACKEND_ENV}={other:?} is not one of file, keyutils, auto; using auto");
                    None
                }
            },
            Err(_) => None,
        };
        let backend = match wanted {
            Some(Backend::File) => {
                tracing::debug!(
                    "{BACKEND_ENV}=file: keeping sessions in {}",
                    home.join(FILE_NAME).display()
                );
                Backend::File
            }
            Some(other) => system_backend(other),
            None => system_backend(platform_keyring()),
        };
        Self::with_backend(home, backend)
    }

    /// A store that only uses the file `home/credentials.json`, whatever the
    /// environment: for tests and for callers that decided already.
    pub fn file_only(home: &Path) -> CredentialStore {
        Self::with_backend(home, Backend::File)
    }

    fn with_backend(home: &Path, backend: Backend) -> CredentialStore {
        let absolute = std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf());
        CredentialStore {
            backend,
            file: home.join(FILE_NAME),
            service: format!("{SERVICE}:{}", absolute.display()),
        }
    }

    /// Where secrets go, for telling the user.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The fallback file (used only when `backend()` is `File`, or read when a
    /// keyring has no entry).
    pub fn file_path(&self) -> &Path {
        &self.file
    }

    /// Stores `secret` for `account`, replacing any previous one.
    pub fn save(&self, account: &str, secret: &str) -> Result<()> {
        check_account(account)?;
        if self.backend == Backend::File {
            return self.update_file(|map| {
                map.insert(account.to_owned(), secret.to_owned());
                true
            });
        }
        let entry = self.entry(account, "save")?;
        entry
            .set_password(secret)
            .map_err(|e| self.keyring_error("save", account, e))
    }

    /// The secret stored for `account`, if any.
    pub fn load(&self, account: &str) -> Result<Option<String>> {
        check_account(account)?;
        if self.backend != Backend::File {
            let entry = self.entry(account, "read")?;
            match entry.get_password() {
                Ok(secret) => return Ok(Some(secret)),
                Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(self.keyring_error("read", account, e)),
            }
        }
        let _guard = file_lock();
        Ok(read_map(&self.file)?.remove(account))
    }

    /// Forgets `account` everywhere it may be stored. Deleting a missing
    /// account is not an error.
    pub fn delete(&self, account: &str) -> Result<()> {
        check_account(account)?;
        if self.backend != Backend::File {
            let entry = self.entry(account, "delete")?;
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(self.keyring_error("delete", account, e)),
            }
        }
        self.update_file(|map| map.remove(account).is_some())
    }

    fn entry(&self, account: &str, op: &'static str) -> Result<keyring::Entry> {
        keyring_entry(self.backend, &self.service, account).map_err(|e| self.keyring_error(op, account, e))
    }

    fn keyring_error(&self, op: &'static str, account: &str, source: keyring::Error) -> CredentialError {
        CredentialError::Keyring {
            backend: self.backend,
            op,
            account: account.to_owned(),
            source,
        }
    }

    /// Read-modify-write of the file; `change` says whether it changed anything.
    /// An empty map removes the file.
    fn update_file(&self, change: impl FnOnce(&mut BTreeMap<String, String>) -> bool) -> Result<()> {
        let _guard = file_lock();
        let mut map = match read_map(&self.file) {
            Ok(map) => map,
            // Nothing in a damaged file can be read back, so let a new sign-in replace it.
            Err(CredentialError::Corrupt { path, source }) => {
                tracing::warn!("replacing the damaged credentials file {}: {source}", path.display());
                BTreeMap::new()
            }
            Err(e) => return Err(e),
        };
        if !change(&mut map) {
            return Ok(());
        }
        if map.is_empty() {
            return match fs::remove_file(&self.file) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(CredentialError::File {
                    op: "remove",
                    path: self.file.clone(),
                    source,
                }),
            };
        }
        write_map(&self.file, &map)
    }
}

fn check_account(account: &str) -> Result<()> {
    if account.is_empty() || account.chars().any(char::is_control) {
        return Err(CredentialError::InvalidAccount(account.to_owned()));
    }
    Ok(())
}

// ------------------------------------------------------------------ keyrings

/// The keyring this platform would use if it answers.
fn platform_keyring() -> Backend {
    if cfg!(target_os = "linux") {
        Backend::SecretService
    } else if cfg!(any(target_os = "macos", target_os = "windows")) {
        Backend::Native
    } else {
        Backend::File
    }
}

/// The backend to use when `wanted` is asked for: `wanted` itself if a probe
/// entry can be written, read back and deleted, else the file. Probed once
/// per process and backend; the fallback is warned about once.
fn system_backend(wanted: Backend) -> Backend {
    static PROBED: Mutex<Option<HashMap<Backend, Backend>>> = Mutex::new(None);
    let mut probed = PROBED.lock().unwrap_or_else(|e| e.into_inner());
    *probed
        .get_or_insert_with(HashMap::new)
        .entry(wanted)
        .or_insert_with(|| {
            if wanted == Backend::File {
                tracing::warn!(
                    "no keyring is supported on this platform: sessions are kept in a file readable only by you"
                );
                return Backend::File;
            }
            match probe_with_timeout(wanted) {
                Ok(()) => {
                    tracing::debug!("sessions are kept in {wanted}");
                    wanted
                }
                Err(error) => {
                    tracing::warn!(
                        "no keyring service answered ({wanted}: {error}): sessions are kept in a file readable only \
                     by you (set {BACKEND_ENV}=file to silence this)"
                    );
                    Backend::File
                }
            }
        })
}

/// `probe` on a thread, given up after `PROBE_TIMEOUT`: the Secret Service
/// waits for ever on an unlock prompt, and a prompt shown on a display nobody
/// watches (Xvfb in CI) would otherwise hang the client at start-up.
fn probe_with_timeout(backend: Backend) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("keyring-probe".into())
        .spawn(move || {
            let _ = tx.send(probe(backend));
        })
        .map_err(|e| format!("cannot start the probe: {e}"))?;
    match rx.recv_timeout(PROBE_TIMEOUT) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s; is it waiting for an unlock prompt?",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// Writes, reads back and deletes a probe entry. The entry's name is fixed, so
/// a store that accepts writes but fails reads or deletes (as keyutils does in
/// some containers) keeps at most one stray probe, not one per run. Another
/// process probing at the same moment may overwrite or delete it: any probe
/// value read back proves the store works, and a vanished entry is written again.
fn probe(backend: Backend) -> keyring::Result<()> {
    const PREFIX: &str = "drive-sync keyring probe from process ";
    let entry = keyring_entry(backend, &format!("{SERVICE} probe"), "probe")?;
    let value = format!("{PREFIX}{}", std::process::id());
    let mut attempts = 0;
    let read = loop {
        attempts += 1;
        entry.set_password(&value)?;
        match entry.get_password() {
            Err(keyring::Error::NoEntry) if attempts < 3 => continue,
            other => break other?,
        }
    };
    if !read.starts_with(PREFIX) {
        return Err(keyring::Error::Invalid(
            "probe".into(),
            "the keyring returned a different value".into(),
        ));
    }
    match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An entry in exactly `backend`, built explicitly rather than through
/// keyring's process-wide default store, which depends on which keyring
/// features any crate in the build enables (and falls back to a mock store
/// that persists nothing).
fn keyring_entry(backend: Backend, service: &str, account: &str) -> keyring::Result<keyring::Entry> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::SecretService => {
            let credential = keyring::secret_service::SsCredential::new_with_target(None, service, account)?;
            Ok(keyring::Entry::new_with_credential(Box::new(credential)))
        }
        #[cfg(target_os = "linux")]
        Backend::Keyutils => {
            let credential = keyring::keyutils::KeyutilsCredential::new_with_target(None, service, account)?;
            Ok(keyring::Entry::new_with_credential(Box::new(credential)))
        }
        // With apple-native / windows-native enabled the default store is the native one.
        #[cfg(any(target_os = "macos", target_os = "windows"))]
        Backend::Native => keyring::Entry::new(service, account),
        other => Err(keyring::Error::Invalid(
            "backend".into(),
            format!("{other} is not available on this platform"),
        )),
    }
}

// ---------------------------------------------------------------------- file

/// Serialises read-modify-write cycles of the file within this process.
/// (Two processes signing in at the same instant could still race; sign-in is
/// interactive and rare.)
fn file_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn read_map(path: &Path) -> Result<BTreeMap<String, String>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(CredentialError::File {
                op: "read",
                path: path.to_owned(),
                source,
            })
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by other users (mode {:o}); it will be rewritten as 0600 on the next sign-in",
                    path.display(),
                    meta.permissions().mode() & 0o777
                );
            }
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(BTreeMap::new());
    }
    serde_json::from_slice(&bytes).map_err(|source| CredentialError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

/// Writes the map to a fresh 0600 temp file next to `path`, syncs it and
/// renames it over `path`: readers see the old file or the new one, never a
/// torn one, and the secret never sits in a file with wider permissions.
fn write_map(path: &Path, map: &BTreeMap<String, String>) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    create_private_dir(dir).map_err(|source| CredentialError::File {
        op: "create the directory of",
        path: path.to_owned(),
        source,
    })?;

    let tmp = dir.join(format!(
        ".{FILE_NAME}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // The umask can only narrow the mode; make it exactly 0600 anyway.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        let mut json = serde_json::to_vec_pretty(map).map_err(io::Error::other)?;
        json.push(b'\n');
        file.write_all(&json)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CredentialError::File {
            op: "write",
            path: path.to_owned(),
            source,
        });
    }
    // Make the rename itself durable; not every platform can open a directory.
    #[cfg(unix)]
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates `dir` (and parents) if missing; a directory this creates is 0700 on
/// unix. Existing directories are left as they are.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialStore::file_only(home.path());
        assert_eq!(store.backend(), Backend::File);
        assert_eq!(store.file_path(), home.path().join(FILE_NAME));

        let secret = r#"{"access_token":"a.b.c","refresh_token":"r\"1\n"}"#;
        store.save("alice@https://drive.example", secret).unwrap();
        store.save("bob@http://localhost:8080", "bob's").unwrap();
        assert_eq!(
            store.load("alice@https://drive.example").unwrap().as_deref(),
            Some(secret)
        );
        assert_eq!(
            store.load("bob@http://localhost:8080").unwrap().as_deref(),
            Some("bob's")
        );

        // Replacing, and a second store on the same home sees it.
        store.save("alice@https://drive.example", "rotated").unwrap();
        let again = CredentialStore::file_only(home.path());
        assert_eq!(
            again.load("alice@https://drive.example").unwrap().as_deref(),
            Some("rotated")
        );

        // The file is a plain account -> secret map and leaves no temp files behind.
        let map: BTreeMap<String, String> = serde_json::from_slice(&fs::read(store.file_path()).unwrap()).unwrap();
        assert_eq!(map.len(), 2);
        let names: Vec<_> = fs::read_dir(home.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn missing_account_and_missing_file_load_as_none() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialStore::file_only(&home.path().join("not-created-yet"));
        assert_eq!(store.load("nobody").unwrap(), None);
        store.save("somebody", "s").unwrap();
        assert_eq!(store.load("nobody").unwrap(), None);
    }

    #[test]
    fn delete_forgets_one_account_and_the_last_removes_the_file() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialStore::file_only(home.path());
        store.save("a", "1").unwrap();
        store.save("b", "2").unwrap();
        store.delete("a").unwrap();
        assert_eq!(store.load("a").unwrap(), None);
        assert_eq!(store.load("b").unwrap().as_deref(), Some("2"));
        store.delete("a").unwrap(); // deleting twice is fine
        store.delete("b").unwrap();
        assert!(
            !store.file_path().exists(),
            "no token file should remain after the last sign-out"
        );
        store.delete("b").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let store = CredentialStore::file_only(&home);
        store.save("a", "secret").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.file_path()), 0o600);
        assert_eq!(mode(&home), 0o700, "a home directory the store creates is private");

        // A file someone loosened is rewritten as 0600.
        fs::set_permissions(store.file_path(), fs::Permissions::from_mode(0o644)).unwrap();
        store.save("b", "other").unwrap();
        assert_eq!(mode(store.file_path()), 0o600);
    }

    #[test]
    fn damaged_file_is_an_error_naming_the_path() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialStore::file_only(home.path());
        fs::write(store.file_path(), b"{not json").unwrap();
        let err = store.load("a").unwrap_err();
        assert!(matches!(err, CredentialError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains(FILE_NAME), "{err}");
        // A new sign-in replaces the damaged file.
        store.save("a", "1").unwrap();
        assert_eq!(store.load("a").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn invalid_account_names_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialStore::file_only(home.path());
        assert!(matches!(store.save("", "x"), Err(CredentialError::InvalidAccount(_))));
        assert!(matches!(store.load("a\nb"), Err(CredentialError::InvalidAccount(_))));
    }

    #[test]
    fn backend_names_are_stable() {
        assert_eq!(
            serde_json::to_string(&Backend::SecretService).unwrap(),
            "\"secret_service\""
        );
        assert_eq!(serde_json::to_string(&Backend::File).unwrap(), "\"file\"");
        assert!(!Backend::File.is_keyring() && Backend::Native.is_keyring());
    }

    /// Uses whatever `open` picks on this machine, which may be the real
    /// desktop keyring: run by hand with `cargo test -- --ignored`.
    #[test]
    #[ignore]
    fn system_backend_round_trip() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(home.path());
        eprintln!("backend: {:?} ({})", store.backend(), store.backend());
        store.save("test-account", "test-secret").unwrap();
        assert_eq!(store.load("test-account").unwrap().as_deref(), Some("test-secret"));
        store.delete("test-account").unwrap();
        assert_eq!(store.load("test-account").unwrap(), None);
    }
}
