//! A client's profile: where it keeps its configuration, tokens and ledgers
//! (`DRIVE_HOME`, by default the platform's config dir), who is signed in to
//! which server, and which ledger belongs to which synced folder. The `drive`
//! CLI and the desktop app share one profile, so either can act on a folder
//! the other syncs.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{
    credentials::{Backend, CredentialError, CredentialStore},
    io_error::{io_err, IoError},
    remote::{Remote, RemoteError, Session},
};

const CONFIG_FILE: &str = "config.json";
const LEDGERS_DIR: &str = "ledgers";

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no configuration directory; set DRIVE_HOME")]
    NoHome,
    #[error("not signed in: run `drive login --server URL --email EMAIL` first")]
    NotSignedIn,
    #[error("no stored tokens: sign in again")]
    NoTokens,
    #[error("the stored tokens are unreadable; sign in again")]
    BadTokens(#[source] serde_json::Error),
    #[error("{} is not inside a folder synced by this client", .0.display())]
    NotSynced(PathBuf),
    #[error("{} is not valid UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Folder(#[from] crate::folder::FolderError),
    #[error(transparent)]
    Io(#[from] IoError),
}

pub type Result<T, E = ProfileError> = std::result::Result<T, E>;

/// Who is signed in, where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub server: String,
    pub email: String,
}

impl Account {
    fn key(&self) -> String {
        format!("{} {}", self.server, self.email)
    }
}

#[derive(Debug, Clone)]
pub struct Profile {
    home: PathBuf,
    store: CredentialStore,
}

impl Profile {
    /// `DRIVE_HOME`, or `drive` in the platform's config dir.
    pub fn default_home() -> Result<PathBuf> {
        match std::env::var_os("DRIVE_HOME") {
            Some(home) => Ok(PathBuf::from(home)),
            None => Ok(dirs::config_dir().ok_or(ProfileError::NoHome)?.join("drive")),
        }
    }

    /// Opens (creating it if needed) the profile in `home`; tokens go where
    /// [`CredentialStore::open`] decides.
    pub fn open(home: &Path) -> Result<Self> {
        std::fs::create_dir_all(home).map_err(io_err(format!("creating {}", home.display())))?;
        Ok(Self {
            home: home.to_path_buf(),
            store: CredentialStore::open(home),
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Where the tokens are kept, for telling the user.
    pub fn credential_backend(&self) -> Backend {
        self.store.backend()
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<Account> {
        let bytes = std::fs::read(self.home.join(CONFIG_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Signs in (or, with `create`, registers) and stores the session.
    pub async fn sign_in(
        &self,
        server: &str,
        email: &str,
        password: &str,
        device: &str,
        create: bool,
    ) -> Result<Account> {
        let server = server.trim().trim_end_matches('/');
        let session = if create {
            Remote::register(server, email.trim(), password, device).await?
        } else {
            Remote::login(server, email.trim(), password, device).await?
        };
        let account = Account {
            server: server.to_owned(),
            email: session.user.email.clone(),
        };
        let secret = serde_json::to_string(&session).map_err(ProfileError::BadTokens)?;
        self.store.save(&account.key(), &secret)?;
        let config = serde_json::to_vec_pretty(&account).map_err(ProfileError::BadTokens)?;
        std::fs::write(self.home.join(CONFIG_FILE), config).map_err(io_err("writing the configuration"))?;
        Ok(account)
    }

    fn session(&self) -> Result<(Account, Session)> {
        let account = self.account().ok_or(ProfileError::NotSignedIn)?;
        let secret = self.store.load(&account.key())?.ok_or(ProfileError::NoTokens)?;
        let session = serde_json::from_str(&secret).map_err(ProfileError::BadTokens)?;
        Ok((account, session))
    }

    /// A connection with the stored session; every token rotation is stored
    /// at once (refresh tokens are single-use).
    pub fn connect(&self) -> Result<Remote> {
        let (account, session) = self.session()?;
        let store = self.store.clone();
        let key = account.key();
        let remote = Remote::new(session, move |session: &Session| match serde_json::to_string(session) {
            Ok(secret) => {
                if let Err(error) = store.save(&key, &secret) {
                    tracing::error!(%error, "could not store the refreshed tokens");
                }
            }
            Err(error) => tracing::error!(%error, "could not serialize the refreshed tokens"),
        })?;
        Ok(remote)
    }

    /// Ends the session on the server (best effort: a server that cannot be
    /// reached is reported, and the local sign-out happens anyway) and forgets
    /// the tokens. Returns the server's refusal, if any.
    pub async fn sign_out(&self) -> Result<Option<RemoteError>> {
        let account = self.account().ok_or(ProfileError::NotSignedIn)?;
        let refused = match self.connect() {
            Ok(remote) => remote.logout().await.err(),
            Err(_) => None,
        };
        self.store.delete(&account.key())?;
        match std::fs::remove_file(self.home.join(CONFIG_FILE)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_err("removing the configuration")(error).into()),
        }
        Ok(refused)
    }

    /// The ledger file of the synced folder `dir` (which must exist).
    pub fn ledger_for(&self, dir: &Path) -> Result<PathBuf> {
        let dir = std::fs::canonicalize(dir).map_err(io_err(format!("opening {}", dir.display())))?;
        std::fs::create_dir_all(self.home.join(LEDGERS_DIR)).map_err(io_err("creating the ledgers folder"))?;
        Ok(self.ledger_of(&dir))
    }

    /// Forgets the sync state of `dir`: its ledger here and the link in the
    /// folder to an account. The next sync of it compares contents with the
    /// server as a first sync does, and deletes nothing.
    pub fn unlink(&self, dir: &Path) -> Result<()> {
        let dir = std::fs::canonicalize(dir).map_err(io_err(format!("opening {}", dir.display())))?;
        // Never under a running engine.
        let _lock = crate::folder::StateDir::open(crate::fs::DiskFs::shared(), &dir, true)?;
        let ledger = self.ledger_of(&dir);
        for suffix in ["", "-wal", "-shm"] {
            let mut path = ledger.clone().into_os_string();
            path.push(suffix);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("removing the folder's ledger")(e).into()),
            }
        }
        crate::folder::StateDir::unlink(&crate::fs::DiskFs, &dir).map_err(io_err("removing the folder's link"))?;
        Ok(())
    }

    fn ledger_of(&self, canonical_dir: &Path) -> PathBuf {
        let id = hex::encode(&Sha256::digest(canonical_dir.to_string_lossy().as_bytes())[..8]);
        self.home.join(LEDGERS_DIR).join(format!("{id}.db"))
    }

    /// The path in the drive (`/a/b.txt`) of a local path inside a synced
    /// folder: the nearest enclosing folder that has a ledger is the synced one.
    pub fn drive_path(&self, local: &Path) -> Result<String> {
        let local = std::fs::canonicalize(local).map_err(io_err(format!("opening {}", local.display())))?;
        Ok(format!("/{}", self.locate(&local)?.1))
    }

    /// The synced folder that holds `local`, and `local`'s path in it
    /// (`a/b.txt`, `""` for the folder itself). `local` need not exist (a
    /// folder excluded from sync is gone from this device): the part that
    /// does is resolved on disk, the rest taken as written.
    pub fn locate(&self, local: &Path) -> Result<(PathBuf, String)> {
        let absolute = std::path::absolute(local).map_err(io_err(format!("opening {}", local.display())))?;
        let (existing, rest) = absolute
            .ancestors()
            .find_map(|dir| {
                let real = std::fs::canonicalize(dir).ok()?;
                Some((real, absolute.strip_prefix(dir).ok()?.to_path_buf()))
            })
            .ok_or_else(|| ProfileError::NotSynced(absolute.clone()))?;
        let full = existing.join(&rest);
        let root = existing
            .ancestors()
            .find(|dir| self.ledger_of(dir).is_file())
            .ok_or_else(|| ProfileError::NotSynced(full.clone()))?;
        let relative = full
            .strip_prefix(root)
            .map_err(|_| ProfileError::NotSynced(full.clone()))?;
        let mut names = Vec::new();
        for part in relative.components() {
            match part {
                std::path::Component::Normal(name) => {
                    names.push(name.to_str().ok_or_else(|| ProfileError::NotUtf8(full.clone()))?)
                }
                // `..` past what exists is not inside the folder.
                _ => return Err(ProfileError::NotSynced(full.clone())),
            }
        }
        Ok((root.to_path_buf(), names.join("/")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_paths_are_relative_to_the_folder_that_has_a_ledger() {
        let home = tempfile::tempdir().unwrap();
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(folder.path().join("docs/old")).unwrap();
        std::fs::write(folder.path().join("docs/old/a.txt"), "a").unwrap();
        let profile = Profile {
            home: home.path().to_path_buf(),
            store: CredentialStore::file_only(home.path()),
        };
        let outside = profile.drive_path(&folder.path().join("docs"));
        assert!(matches!(outside, Err(ProfileError::NotSynced(_))), "{outside:?}");
        let ledger = profile.ledger_for(folder.path()).unwrap();
        std::fs::write(ledger, "").unwrap();
        assert_eq!(
            profile.drive_path(&folder.path().join("docs/old/a.txt")).unwrap(),
            "/docs/old/a.txt"
        );
        assert_eq!(profile.drive_path(folder.path()).unwrap(), "/");
        let root = std::fs::canonicalize(folder.path()).unwrap();
        assert_eq!(
            profile.locate(&folder.path().join("gone/deeper")).unwrap(),
            (root.clone(), "gone/deeper".to_owned()),
            "a path that does not exist (any more) is located by what does"
        );
        assert_eq!(
            profile.locate(&folder.path().join("docs/../docs/old")).unwrap(),
            (root, "docs/old".to_owned())
        );
        let escape = profile.locate(&folder.path().join("nothing/../../elsewhere"));
        assert!(matches!(escape, Err(ProfileError::NotSynced(_))), "{escape:?}");
    }

    #[test]
    fn no_account_until_signed_in() {
        let home = tempfile::tempdir().unwrap();
        let profile = Profile::open(home.path()).unwrap();
        assert_eq!(profile.account(), None);
        assert!(matches!(profile.connect(), Err(ProfileError::NotSignedIn)));
    }
}
