// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use drive_desktop::{desktop::Desktop, launch::Launch};
use drive_sync::{
    app_socket::{self, Reply, Request},
    profile::Profile,
};

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
            None => {
                eprintln!("drive-desktop: this user has no home folder");
                ExitCode::FAILURE
            }
        };
    }
    // An app already running takes the requests (share links, show the
    // window); otherwise this process becomes the app and does them itself.
    if let Some(code) = hand_to_running_app(&launch.requests()) {
        return code;
    }
    let opened = match Profile::default_home() {
        Ok(home) => Desktop::open(&home),
        Err(error) => Err(error.into()),
    };
    let desktop = match opened {
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

/// Hands a launch's requests to the app already running, if one is: links
/// go to standard output, for scripts. Returns the process's exit code when
/// it did (this process then exits).
fn hand_to_running_app(requests: &[Request]) -> Option<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let mut code = ExitCode::SUCCESS;
    for request in requests {
        match runtime.block_on(app_socket::ask(request)) {
            Ok(Some(Reply::Link(url))) => println!("{url}"),
            Ok(Some(Reply::Ok(()))) => {}
            Ok(Some(Reply::Error(message))) => {
                eprintln!("drive-desktop: {message}");
                code = ExitCode::FAILURE;
            }
            // No app running: this process becomes the app.
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(%error, "the running app did not answer");
                return None;
            }
        }
    }
    Some(code)
}
