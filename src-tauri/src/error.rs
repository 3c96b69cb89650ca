//! How the app's operations fail, and how that crosses to the web view: a
//! stable `kind` the UI can branch on and a sentence for people.

use std::path::PathBuf;

use drive_sync::{
    ledger::LedgerError, profile::ProfileError, remote::RemoteError, selective::SelectiveError, share::ShareError,
};
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
    #[error("The server at {0} is not answering. Check the address or your connection.")]
    NotAnswering(String),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("the folder's sync state could not be read or saved: {0}")]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Selective(#[from] SelectiveError),
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
    /// A failure to reach the server at `host` told as such (signing in:
    /// the user typed the address and can check it).
    pub fn with_host(self, host: &str) -> Self {
        match &self {
            DesktopError::Profile(ProfileError::Remote(error)) if remote_kind(error) == ErrorKind::Offline => {
                DesktopError::NotAnswering(host.to_owned())
            }
            _ => self,
        }
    }

    /// The sentence a person reads: no HTTP statuses, no OS error numbers.
    pub fn plain(&self) -> String {
        match self {
            DesktopError::Profile(ProfileError::Remote(error)) | DesktopError::Share(ShareError::Remote(error)) => {
                match error {
                    RemoteError::InvalidCredentials => "The email or password is not right.".to_owned(),
                    RemoteError::Unauthorized { .. } => "Your session has ended. Sign in again.".to_owned(),
                    RemoteError::RateLimited { .. } => "Too many attempts. Wait a minute and try again.".to_owned(),
                    RemoteError::Server { .. } => {
                        "The server had a problem and could not do this. Try again in a moment.".to_owned()
                    }
                    RemoteError::Network(_) => {
                        "The server is not answering. Check your connection, then try again.".to_owned()
                    }
                    RemoteError::Rejected { message, .. } => {
                        let message = crate::issues::plain(message);
                        match message.trim_end_matches('.') {
                            "" => "The server refused this.".to_owned(),
                            why => format!("The server refused: {why}."),
                        }
                    }
                    other => sentence(&crate::issues::plain(&other.to_string())),
                }
            }
            other => sentence(&crate::issues::plain(&other.to_string())),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            DesktopError::NotSignedIn
            | DesktopError::Profile(ProfileError::NotSignedIn | ProfileError::NoTokens | ProfileError::BadTokens(_)) => {
                ErrorKind::NotSignedIn
            }
            DesktopError::NoFolder => ErrorKind::NoFolder,
            DesktopError::NotAnswering(_) => ErrorKind::Offline,
            DesktopError::BadServerUrl
            | DesktopError::RelativeFolder
            | DesktopError::NotAFolder(_)
            | DesktopError::OutsideFolder(_)
            | DesktopError::Selective(
                SelectiveError::BadPath(_) | SelectiveError::Root | SelectiveError::InsideExcluded { .. },
            )
            | DesktopError::Profile(ProfileError::NotSynced(_) | ProfileError::NotUtf8(_)) => ErrorKind::Invalid,
            DesktopError::Profile(ProfileError::Remote(error)) | DesktopError::Share(ShareError::Remote(error)) => {
                remote_kind(error)
            }
            DesktopError::Share(ShareError::Unsupported) => ErrorKind::Unsupported,
            _ => ErrorKind::Failed,
        }
    }
}

/// Starts with a capital and ends with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl From<DesktopError> for CommandError {
    fn from(error: DesktopError) -> Self {
        CommandError {
            kind: error.kind(),
            message: error.plain(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sentences_without_codes() {
        let refused = DesktopError::NotAnswering("drive.example.com".into());
        assert_eq!(
            CommandError::from(refused).message,
            "The server at drive.example.com is not answering. Check the address or your connection."
        );
        let server = DesktopError::Profile(ProfileError::Remote(RemoteError::Server {
            status: 503,
            message: "busy".into(),
        }));
        let message = CommandError::from(server).message;
        assert!(!message.contains("503"), "{message}");
        let rejected = DesktopError::Profile(ProfileError::Remote(RemoteError::Rejected {
            status: 400,
            code: "weak_password".into(),
            message: "the password must have at least 8 characters".into(),
        }));
        let message = CommandError::from(rejected).message;
        assert_eq!(
            message,
            "The server refused: the password must have at least 8 characters."
        );
        assert_eq!(
            CommandError::from(DesktopError::NoFolder).message,
            "Choose a folder to sync first."
        );
    }
}
