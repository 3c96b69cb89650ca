//! The desktop app's local socket: how `drive share` and a second launch of
//! the app (from a file manager's "Copy share link") ask the running app for a
//! public link. The long-running app owns the clipboard (on X11 a clipboard
//! owned by a short-lived process is lost when it exits) and shows the
//! notification.
//!
//! One request per connection, each a line of JSON, answered by a line of JSON:
//!
//! ```text
//! -> {"share":"/home/ann/Drive/report.pdf"}
//! <- {"link":"http://drive.example/s/Ab3..."}      or  {"error":"..."}
//! -> {"show":null}
//! <- {"ok":null}
//! ```
//!
//! The socket is `$XDG_RUNTIME_DIR/drive/app.sock` (private to the user),
//! `DRIVE_APP_SOCKET` overriding it. Where there are no Unix sockets (Windows)
//! there is no socket: callers go to the server directly.

use std::{future::Future, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

/// Environment variable overriding the socket's path.
pub const SOCKET_ENV: &str = "DRIVE_APP_SOCKET";
/// Longest a request line may be (a path, JSON-escaped).
const MAX_LINE: u64 = 64 * 1024;
/// How long a client waits for the app's answer: making a link is one or two
/// round trips to the server.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Make a public link to this local path, copy it and tell the user.
    Share(PathBuf),
    /// Bring the app's window to the front.
    Show(()),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Link(String),
    Ok(()),
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("the desktop app's socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("the desktop app answered something unreadable: {0}")]
    Protocol(#[from] serde_json::Error),
    #[error("the desktop app did not answer in time")]
    Timeout,
}

/// Where the running app listens, if this platform has such a socket.
pub fn socket_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(SOCKET_ENV) {
        return Some(PathBuf::from(path));
    }
    if !cfg!(unix) {
        return None;
    }
    let dir = dirs::runtime_dir().unwrap_or_else(std::env::temp_dir);
    Some(dir.join("drive").join("app.sock"))
}

/// Asks the running app; `Ok(None)` when no app is listening.
pub async fn ask(request: &Request) -> Result<Option<Reply>, SocketError> {
    let Some(path) = socket_path() else { return Ok(None) };
    ask_at(&path, request).await
}

#[cfg(unix)]
pub async fn ask_at(path: &std::path::Path, request: &Request) -> Result<Option<Reply>, SocketError> {
    use std::io::ErrorKind;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let stream = match tokio::net::UnixStream::connect(path).await {
        Ok(stream) => stream,
        // No socket, or one left behind by an app that is gone.
        Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut answer = String::new();
    tokio::time::timeout(ANSWER_TIMEOUT, BufReader::new(read).read_line(&mut answer))
        .await
        .map_err(|_| SocketError::Timeout)??;
    Ok(Some(serde_json::from_str(answer.trim_end())?))
}

#[cfg(not(unix))]
pub async fn ask_at(_path: &std::path::Path, _request: &Request) -> Result<Option<Reply>, SocketError> {
    Ok(None)
}

/// Listens on `path` (replacing a stale socket; the folder is made private)
/// and answers each request with `handle`, until the returned task is
/// aborted. Fails if another app already answers there.
#[cfg(unix)]
pub fn serve<H, F>(path: &std::path::Path, handle: H) -> Result<tokio::task::JoinHandle<()>, SocketError>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "another app is listening").into());
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    let handle = Arc::new(handle);
    Ok(tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "the app socket failed to accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if let Err(error) = BufReader::new(read.take(MAX_LINE)).read_line(&mut line).await {
                    tracing::debug!(%error, "reading a request from the app socket");
                    return;
                }
                let reply = match serde_json::from_str::<Request>(line.trim_end()) {
                    Ok(request) => handle(request).await,
                    Err(error) => Reply::Error(format!("unreadable request: {error}")),
                };
                let mut answer = serde_json::to_string(&reply).unwrap_or_else(|_| "{\"error\":\"\"}".into());
                answer.push('\n');
                let _ = write.write_all(answer.as_bytes()).await;
            });
        }
    }))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_gets_the_handlers_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drive/app.sock");
        let server = serve(&path, |request| async move {
            match request {
                Request::Share(path) => Reply::Link(format!("http://x/s/{}", path.display())),
                Request::Show(()) => Reply::Ok(()),
            }
        })
        .unwrap();
        let reply = ask_at(&path, &Request::Share("/a b/c\n.txt".into())).await.unwrap();
        assert_eq!(reply, Some(Reply::Link("http://x/s//a b/c\n.txt".into())));
        assert_eq!(ask_at(&path, &Request::Show(())).await.unwrap(), Some(Reply::Ok(())));
        // A second app cannot take over a live socket.
        assert!(serve(&path, |_| async { Reply::Ok(()) }).is_err());
        server.abort();
    }

    #[tokio::test]
    async fn no_app_listening_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.sock");
        assert_eq!(ask_at(&path, &Request::Show(())).await.unwrap(), None);
        // A socket left behind by an app that died.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert_eq!(ask_at(&path, &Request::Show(())).await.unwrap(), None);
        // ...is replaced by the next app.
        let server = serve(&path, |_| async { Reply::Error("nope".into()) }).unwrap();
        assert_eq!(
            ask_at(&path, &Request::Show(())).await.unwrap(),
            Some(Reply::Error("nope".into()))
        );
        server.abort();
    }
}
