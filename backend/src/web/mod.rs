//! The web app served by the server itself: its embedded files ([`assets`]),
//! browser sessions held in an HttpOnly refresh cookie with a CSRF token
//! ([`session`]), the desktop app's hand-off into a signed-in page
//! ([`handoff`]), and download URLs a browser can follow without an
//! `Authorization` header ([`downloads`]).

pub mod assets;
pub mod downloads;
pub mod handoff;
pub mod session;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub use assets::fallback;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assets::root))
        .routes(routes!(assets::asset))
        .routes(routes!(session::login))
        .routes(routes!(session::refresh))
        .routes(routes!(session::logout))
        .routes(routes!(handoff::create))
        .routes(routes!(handoff::consume))
        .routes(routes!(downloads::create))
        .routes(routes!(downloads::download))
}
