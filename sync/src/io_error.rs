//! One I/O error for the whole client: what was being done, and why it
//! failed. Each module's error type wraps it (`#[from]`), so
//! `.map_err(io_err("reading the file"))?` works everywhere.

#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct IoError {
    pub context: String,
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }
}

/// For `map_err`: an [`IoError`] that says what was being done.
pub fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> IoError {
    let context = context.into();
    move |source| IoError { context, source }
}
