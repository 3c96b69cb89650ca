//! The drive desktop app: not built yet. It will be a Tauri 2 shell over the
//! sync engine (`drive-sync`); until then, `drive` is the client.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("drive-desktop: the desktop app is not built yet; use the `drive` CLI (see README)");
    ExitCode::from(2)
}
