// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use drive_desktop::{desktop::Desktop, ipc, launch::Launch};
use drive_sync::profile::Profile;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRIVE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,drive_sync=info,drive_desktop=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let cwd = std::env::current_dir().unwrap_or_default();
    let launch = Launch::parse(std::env::args().skip(1), &cwd);
    if std::env::args().any(|arg| arg == "--remove-file-manager-entries") {
        return match dirs::home_dir().map(|home| drive_desktop::file_manager::uninstall(&home)) {
            Some(Ok(())) => ExitCode::SUCCESS,
            Some(Err(error)) => {
                eprintln!("drive-desktop: {error}");
                ExitCode::FAILURE
            }
            None => ExitCode::FAILURE,
        };
    }
    // An app already running takes the requests (share links, show the
    // window); otherwise this process becomes the app and does them itself.
    if let Some(code) = ipc::forward(&launch.requests()) {
        return code;
    }
    let desktop = match Profile::default_home()
        .map_err(Into::into)
        .and_then(|home| Desktop::open(&home))
    {
        Ok(desktop) => desktop,
        Err(error) => {
            eprintln!("drive-desktop: {error}");
            return ExitCode::FAILURE;
        }
    };
    match drive_desktop::run(launch, desktop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("drive-desktop: {error:#}");
            ExitCode::FAILURE
        }
    }
}
