//! "Open on the web": asks the server for a one-time hand-off URL
//! (`POST /api/v1/web/handoff`), which opens the web app in the browser
//! already signed in, in a browser session of its own.

use std::time::Duration;

use drive_sync::remote::Remote;
use serde::Deserialize;

/// Why no hand-off URL could be had (the caller then opens the server's root).
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("the session could not be renewed: {0}")]
    Session(String),
    #[error("the server could not be reached: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the server answered {0} (a server without the web app?)")]
    Status(u16),
    #[error("the server's answer is not a hand-off URL: {0}")]
    Body(#[from] serde_json::Error),
}

/// The answer of `POST /api/v1/web/handoff`.
#[derive(Debug, Deserialize)]
struct HandoffUrl {
    url: String,
}

/// A one-time URL (valid 60 seconds) that opens the web app signed in as
/// the account of `remote`.
pub async fn handoff_url(remote: &Remote) -> Result<String, HandoffError> {
    // Any request renews an expired access token; this one is cheap.
    remote
        .me()
        .await
        .map_err(|error| HandoffError::Session(error.to_string()))?;
    let session = remote.session().await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let response = client
        .post(format!("{}/api/v1/web/handoff", session.server.trim_end_matches('/')))
        .bearer_auth(&session.access_token)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(HandoffError::Status(response.status().as_u16()));
    }
    let answer: HandoffUrl = serde_json::from_slice(&response.bytes().await?)?;
    // Relative to the server when it says so.
    Ok(if answer.url.starts_with('/') {
        format!("{}{}", session.server.trim_end_matches('/'), answer.url)
    } else {
        answer.url
    })
}
