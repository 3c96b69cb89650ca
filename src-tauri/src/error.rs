//! How the app's operations fail, and how that crosses to the web view: a
//! stable `kind` the UI can branch on and a sentence for people.

use std::path::PathBuf;

use drive_sync::{profile::ProfileError, remote::RemoteError, share::ShareError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("sign in first")]
    NotSignedIn,
    #[error("choose a folder to sync first")]
    NoFolder,
    #[error("the server address must start with http:// or https://")]
    BadServerUrl,
    #[error("the folder must be a full path, like /home/you/Drive")]
    RelativeFolder,
    #[error("{} is a file, not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("{} is not in your Drive folder", .0.display())]
    OutsideFolder(PathBuf),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{0}")]
    Plugin(#[from] tauri::Error),
}

pub type Result<T, E = DesktopError> = std::result::Result<T, E>;

pub use drive_sync::io_error::{io_err, IoError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotSignedIn,
    NoFolder,
    Invalid,
    Offline,
    WrongPassword,
    Unsupported,
    Failed,
}

/// What a command returns on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
}

fn remote_kind(error: &RemoteError) -> ErrorKind {
    match error {
        RemoteError::InvalidCredentials => ErrorKind::WrongPassword,
        RemoteError::Unauthorized { .. } => ErrorKind::NotSignedIn,
        error if error.is_transient() => ErrorKind::Offline,
        _ => ErrorKind::Failed,
    }
}

impl DesktopError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DesktopError::NotSignedIn
            | DesktopError::Profile(ProfileError::NotSignedIn | ProfileError::NoTokens | ProfileError::BadTokens(_)) => {
                ErrorKind::NotSignedIn
            }
            DesktopError::NoFolder => ErrorKind::NoFolder,
            DesktopError::BadServerUrl
            | DesktopError::RelativeFolder
            | DesktopError::NotAFolder(_)
            | DesktopError::OutsideFolder(_)
            | DesktopError::Profile(ProfileError::NotSynced(_) | ProfileError::NotUtf8(_)) => ErrorKind::Invalid,
            DesktopError::Profile(ProfileError::Remote(error)) | DesktopError::Share(ShareError::Remote(error)) => {
                remote_kind(error)
            }
            DesktopError::Share(ShareError::Unsupported) => ErrorKind::Unsupported,
            _ => ErrorKind::Failed,
        }
    }
}

impl From<DesktopError> for CommandError {
    fn from(error: DesktopError) -> Self {
        CommandError {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}
