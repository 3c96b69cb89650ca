//! The real app under Xvfb, driven through WebDriver (tauri-driver in front
//! of WebKitWebDriver): create an account on a real `drive-server`, choose a
//! folder, drop a file into it, see it in the activity list and on the
//! server, then ask the running app for a share link from the `drive` CLI and
//! from a second `drive-desktop --share`. Screenshots of each screen go to
//! target/screenshots/desktop-*.png. `scripts/test-desktop` runs this inside
//! `dbus-run-session -- xvfb-run`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use drive_e2e::{binary, eventually, free_port, screenshots_dir, Client, Server};
use fantoccini::{elements::Element, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

const EMAIL: &str = "desktop@example.com";
/// The harness's clients sign in with this password.
const PASSWORD: &str = drive_e2e::PASSWORD;

/// The environment the app runs in: a home of its own, so that nothing of the
/// user's (keyring, menus, autostart, socket) is touched.
struct Sandbox {
    _temp: tempfile::TempDir,
    home: PathBuf,
    drive_home: PathBuf,
    runtime: PathBuf,
    /// What the app asked the desktop to open (a URL or path a line), through
    /// the `xdg-open` and `gio` in `bin/`, which only write it down.
    opened: PathBuf,
    bin: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let temp = tempfile::tempdir().unwrap();
        let home = temp.path().join("home");
        let runtime = temp.path().join("run");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&runtime).unwrap();
        let (bin, opened) = (temp.path().join("bin"), temp.path().join("opened.txt"));
        std::fs::create_dir_all(&bin).unwrap();
        for opener in ["xdg-open", "gio"] {
            use std::os::unix::fs::PermissionsExt;
            let script = bin.join(opener);
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\nfor a; do printf '%s\\n' \"$a\" >>'{}'; done\n",
                    opened.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Sandbox {
            drive_home: home.join(".config/drive"),
            home,
            runtime,
            opened,
            bin,
            _temp: temp,
        }
    }

    fn apply(&self, command: &mut Command) {
        command
            .env("HOME", &self.home)
            .env("DRIVE_HOME", &self.drive_home)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("DRIVE_CREDENTIALS", "file")
            .env("DRIVE_LOG", "drive_sync=info,drive_desktop=debug")
            .env(
                "PATH",
                format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default()),
            )
            // Xvfb has no GPU: Mesa's software renderer. (With
            // WEBKIT_DISABLE_COMPOSITING_MODE or WEBKIT_DISABLE_DMABUF_RENDERER
            // set, this WebKitGTK never answers WebDriver's screenshot.)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
            .env_remove("WEBKIT_DISABLE_DMABUF_RENDERER");
    }

    /// Ends app processes started for this sandbox (the WebDriver chain
    /// starts them; they are recognised by this sandbox's DRIVE_HOME).
    fn kill_apps(&self) {
        let marker = format!("DRIVE_HOME={}", self.drive_home.display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let ours = environ.split(|b| *b == 0).any(|var| var == marker.as_bytes());
            let is_app = std::fs::read_link(entry.path().join("exe"))
                .map(|exe| exe.ends_with("drive-desktop"))
                .unwrap_or(false);
            if ours && is_app {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

/// tauri-driver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(sandbox: &Sandbox) -> Driver {
        let port = free_port();
        let mut command = Command::new("tauri-driver");
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &free_port().to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        sandbox.apply(&mut command);
        let child = command
            .spawn()
            .expect("tauri-driver (scripts/setup installs it with cargo install)");
        let ready = eventually(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ready, "tauri-driver did not start");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn screenshot(browser: &fantoccini::Client, name: &str) -> PathBuf {
    // WebKit paints a moment after the DOM changes: without this pause the
    // first window's picture still shows "Loading…" with its form in the DOM.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = screenshots_dir().join(name);
    std::fs::write(&path, png).expect("saving the screenshot");
    eprintln!("screenshot: {}", path.display());
    path
}

/// Waits for an element: the window and its script need a moment.
async fn find(browser: &fantoccini::Client, css: &str) -> Element {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(error) if Instant::now() > deadline => panic!("no {css}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn type_into(browser: &fantoccini::Client, css: &str, text: &str) {
    let field = find(browser, css).await;
    field.clear().await.expect("clearing a field");
    field.send_keys(text).await.expect("typing");
}

async fn text_of(browser: &fantoccini::Client, css: &str) -> Option<String> {
    browser.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

/// Clicks the element from the page, once it is there and enabled (a click
/// of WebDriver's own needs it in view and still).
async fn click_in_page(browser: &fantoccini::Client, css: &str) {
    find(browser, css).await;
    let script = format!(
        "const e = document.querySelector({}); if (!e || e.disabled) return false; e.scrollIntoView(); e.click(); return true",
        serde_json::to_string(css).unwrap()
    );
    let clicked = until(Duration::from_secs(10), || async {
        browser.execute(&script, vec![]).await.ok() == Some(serde_json::Value::Bool(true))
    })
    .await;
    assert!(clicked, "{css} is not there or disabled");
}

/// Invokes one of the app's commands from the page; its answer as JSON.
async fn invoke(browser: &fantoccini::Client, command: &str, args: &str) -> serde_json::Value {
    let script = format!(
        "return window.__TAURI_INTERNALS__.invoke('{command}', {args}).then((r) => r ?? null, (e) => ({{ failed: e }}))"
    );
    let answer = browser.execute(&script, vec![]).await.expect("invoking a command");
    assert!(answer.get("failed").is_none(), "{command}: {answer}");
    answer
}

/// The contrast ratio of an element's text on its background (WCAG).
async fn contrast(browser: &fantoccini::Client, css: &str) -> f64 {
    let script = format!(
        r#"const e = document.querySelector({css:?}); const s = getComputedStyle(e);
        const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => [r, g, b].map((v) => {{ v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }})
            .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
        const [a, b] = [lum(rgb(s.color)), lum(rgb(s.backgroundColor))];
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);"#
    );
    let ratio = browser.execute(&script, vec![]).await.expect("measuring a contrast");
    ratio.as_f64().expect("a number")
}

/// Whether an element's content fits it and it fits the window.
async fn fits(browser: &fantoccini::Client, css: &str) -> bool {
    let script = format!(
        "const e = document.querySelector({css:?}); const r = e.getBoundingClientRect();
        return e.scrollWidth <= e.clientWidth + 1 && r.left >= 0 && r.right <= window.innerWidth + 1;"
    );
    browser.execute(&script, vec![]).await.expect("measuring") == serde_json::Value::Bool(true)
}

/// Whether an element's children sit on one row.
async fn one_row(browser: &fantoccini::Client, css: &str) -> bool {
    let script = format!(
        "const tops = [...document.querySelector({css:?}).children].map((c) => c.getBoundingClientRect());
        return tops.every((r) => r.top < tops[0].bottom && r.bottom > tops[0].top);"
    );
    browser.execute(&script, vec![]).await.expect("measuring") == serde_json::Value::Bool(true)
}

/// Turns the dark theme on or off (the page's data-theme).
async fn dark(browser: &fantoccini::Client, on: bool) {
    let script = if on {
        "document.documentElement.dataset.theme = 'dark'; return true"
    } else {
        "document.documentElement.dataset.theme = 'light'; return true"
    };
    browser.execute(script, vec![]).await.expect("switching the theme");
}

/// Polls `check` for up to `timeout`.
async fn until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    check().await
}

/// The app under test: the one `cargo test` built, or with
/// `DRIVE_DESKTOP_APP` another one (scripts/test-packages: the installed
/// package's, from its .desktop file's Exec line).
fn app_binary() -> PathBuf {
    match std::env::var_os("DRIVE_DESKTOP_APP") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_drive-desktop")),
    }
}

/// The arguments of the .desktop file's Exec line after the program
/// (`DRIVE_DESKTOP_APP_ARGS`, split on spaces; field codes like %U dropped).
fn app_arguments() -> Vec<String> {
    std::env::var("DRIVE_DESKTOP_APP_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .filter(|arg| !arg.starts_with('%'))
        .map(str::to_owned)
        .collect()
}

/// A WebDriver session on the app, through tauri-driver.
async fn open_app(driver: &Driver) -> fantoccini::Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "wry".into());
    capabilities.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app_binary(), "args": app_arguments() }),
    );
    // The driver may answer before the app's window exists: retry.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&driver.url)
            .await
        {
            Ok(browser) => return browser,
            Err(error) if attempt < 5 => {
                eprintln!("WebDriver session not ready ({error}); retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) => panic!("no WebDriver session: {error}"),
        }
    }
}

/// The app processes running for this sandbox, with their executables.
fn running_apps(sandbox: &Sandbox) -> Vec<(i32, PathBuf)> {
    let marker = format!("DRIVE_HOME={}", sandbox.drive_home.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut apps = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|var| var == marker.as_bytes()) {
            continue;
        }
        if let Ok(exe) = std::fs::read_link(entry.path().join("exe")) {
            if exe.ends_with("drive-desktop") {
                apps.push((pid, exe));
            }
        }
    }
    apps
}

fn share_with(program: &Path, args: &[&str], sandbox: &Sandbox) -> std::process::Output {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null());
    sandbox.apply(&mut command);
    command.output().expect("running a share command")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_choose_a_folder_sync_a_file_and_share_it() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "needs an X display: run through scripts/test-desktop (dbus-run-session -- xvfb-run)"
    );
    let server = Server::start().expect("drive-server");
    let sandbox = Sandbox::new();
    let driver = Driver::start(&sandbox);
    eprintln!("e2e: tauri-driver at {}", driver.url);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "wry".into());
    capabilities.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app_binary() }),
    );
    // The driver may answer before the app's window exists: retry.
    let mut attempt = 0;
    let browser = loop {
        attempt += 1;
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&driver.url)
            .await
        {
            Ok(browser) => break browser,
            Err(error) if attempt < 5 => {
                eprintln!("WebDriver session not ready ({error}); retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) => panic!("no WebDriver session: {error}"),
        }
    };

    eprintln!("e2e: WebDriver session open");
    // First run: the sign-in step.
    find(&browser, "#server").await;
    eprintln!("e2e: the sign-in step is shown");
    screenshot(&browser, "desktop-1-sign-in.png").await;
    // The primary button reads well in both themes (WCAG AA: 4.5:1).
    for theme in [false, true] {
        dark(&browser, theme).await;
        let ratio = contrast(&browser, "#sign-in").await;
        assert!(
            ratio >= 4.5,
            "the primary button's contrast is {ratio:.2} (dark: {theme})"
        );
    }
    dark(&browser, false).await;
    // A server that takes no connection: told in words, at once (no retries).
    let closed = format!("http://127.0.0.1:{}", free_port());
    type_into(&browser, "#server", &closed).await;
    type_into(&browser, "#email", EMAIL).await;
    type_into(&browser, "#password", PASSWORD).await;
    find(&browser, "#sign-in").await.click().await.expect("signing in");
    let refused = until(Duration::from_secs(30), || async {
        text_of(&browser, "#form-error").await.is_some_and(|text| {
            text == "The server at 127.0.0.1 is not answering. Check the address or your connection."
        })
    })
    .await;
    assert!(refused, "{:?}", text_of(&browser, "#form-error").await);
    assert!(fits(&browser, ".setup-card").await, "the setup card overflows");
    screenshot(&browser, "desktop-1-sign-in-error.png").await;
    dark(&browser, true).await;
    screenshot(&browser, "desktop-1-sign-in-error-dark.png").await;
    dark(&browser, false).await;
    find(&browser, "#toggle-create")
        .await
        .click()
        .await
        .expect("switching to create");
    // Creating an account: the rule is stated, and the password typed twice.
    let rules = text_of(&browser, "#password-rules").await.unwrap_or_default();
    assert!(rules.contains("At least 8 characters"), "{rules}");
    type_into(&browser, "#server", &server.url()).await;
    type_into(&browser, "#email", EMAIL).await;
    type_into(&browser, "#password", PASSWORD).await;
    type_into(&browser, "#confirm-password", "not the same").await;
    find(&browser, "#sign-in")
        .await
        .click()
        .await
        .expect("creating the account");
    let mismatch = until(Duration::from_secs(10), || async {
        text_of(&browser, "#form-error")
            .await
            .is_some_and(|text| text.contains("not the same"))
    })
    .await;
    assert!(mismatch, "{:?}", text_of(&browser, "#form-error").await);
    type_into(&browser, "#confirm-password", PASSWORD).await;
    find(&browser, "#sign-in")
        .await
        .click()
        .await
        .expect("creating the account");

    // Then the folder.
    let folder_field = find(&browser, "#folder").await;
    let suggested = folder_field.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(
        Path::new(&suggested),
        sandbox.home.join("Drive"),
        "~/Drive is the default"
    );
    screenshot(&browser, "desktop-2-folder.png").await;
    let folder = sandbox.home.join("Sync here");
    type_into(&browser, "#folder", &folder.to_string_lossy()).await;
    find(&browser, "#start").await.click().await.expect("starting to sync");

    // Syncing: the preferences window with its live activity list.
    find(&browser, "#status-label").await;
    let up_to_date = until(Duration::from_secs(30), || async {
        text_of(&browser, "#status-label").await.as_deref() == Some("Up to date")
    })
    .await;
    if !up_to_date {
        screenshot(&browser, "desktop-failed-status.png").await;
    }
    assert!(up_to_date, "status: {:?}", text_of(&browser, "#status-label").await);
    std::fs::write(folder.join("hello.txt"), "hello from the desktop app").unwrap();
    let listed = until(Duration::from_secs(30), || async {
        text_of(&browser, r#".activity-item[data-path="hello.txt"]"#)
            .await
            .is_some_and(|text| text.contains("Uploaded"))
    })
    .await;
    assert!(listed, "hello.txt is not in the activity list");
    screenshot(&browser, "desktop-3-activity.png").await;

    // The file is on the server: another client gets it.
    let other = Client::login(&server, EMAIL).expect("signing in a second client");
    other.sync().expect("syncing the second client");
    assert_eq!(
        std::fs::read_to_string(other.path("hello.txt")).expect("hello.txt on the server"),
        "hello from the desktop app"
    );

    // "Copy share link" from outside: the running app answers on its socket.
    let file = folder.join("hello.txt");
    let file = file.to_string_lossy();
    let cli = share_with(&binary("drive"), &["share", &file], &sandbox);
    let cli_url = String::from_utf8_lossy(&cli.stdout).trim().to_owned();
    assert!(
        cli.status.success(),
        "drive share: {}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(cli_url.starts_with(&format!("{}/s/", server.url())), "{cli_url}");
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("desktop app"),
        "the CLI did not go through the app"
    );
    let second = share_with(&app_binary(), &["--share", &file], &sandbox);
    let second_url = String::from_utf8_lossy(&second.stdout).trim().to_owned();
    assert!(
        second.status.success(),
        "drive-desktop --share: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(second_url.starts_with(&format!("{}/s/", server.url())), "{second_url}");
    // A path outside the folder is refused in words.
    let outside = share_with(&app_binary(), &["--share", &sandbox.home.to_string_lossy()], &sandbox);
    assert!(!outside.status.success());
    assert!(String::from_utf8_lossy(&outside.stderr).contains("not in your Drive folder"));

    // The app installed its file-manager entries in its home.
    assert!(sandbox
        .home
        .join(".local/share/nemo/actions/drive-copy-share-link.nemo_action")
        .is_file());

    // A big upload: the app leaves "Up to date" as soon as the file lands
    // (the watcher tells it before the pass hashes 200 MB), and shows the
    // file's progress (name, percent, bytes, speed, time left) while it
    // goes; the upload is slowed so that there is time to look.
    let idle = until(Duration::from_secs(30), || async {
        text_of(&browser, "#status-label").await.as_deref() == Some("Up to date")
    })
    .await;
    assert!(idle, "status: {:?}", text_of(&browser, "#status-label").await);
    invoke(&browser, "set_limits", r#"{ "upKib": 40960, "downKib": null }"#).await;
    let big = drive_e2e::random_bytes(13, 200 << 20);
    let writing = Instant::now();
    std::fs::write(folder.join("big.bin"), &big).unwrap();
    drop(big);
    let left = until(Duration::from_secs(30), || async {
        text_of(&browser, "#status-label").await.as_deref() != Some("Up to date")
    })
    .await;
    assert!(left, "the status stayed \"Up to date\" after a change");
    eprintln!(
        "e2e: left \"Up to date\" {:.1} s after the write started: {:?}",
        writing.elapsed().as_secs_f64(),
        text_of(&browser, "#status-label").await
    );
    let row = r#".transfer[data-path="big.bin"]"#;
    let moving = until(Duration::from_secs(90), || async {
        let Some(text) = text_of(&browser, row).await else {
            return false;
        };
        // "big.bin 42% … 84.0 MB of 200 MB 20.0 MB/s · 6 s left"
        text.contains('%') && text.contains("of 200 MB") && text.contains("/s") && text.contains("left")
    })
    .await;
    assert!(
        moving,
        "no progress for big.bin: {:?}",
        text_of(&browser, "#progress").await
    );
    let label = text_of(&browser, "#status-label").await.unwrap_or_default();
    assert!(label.starts_with("Syncing 1 file") && label.contains("left"), "{label}");
    assert!(
        one_row(&browser, ".status-bar").await,
        "the status pushed the toolbar onto a second row"
    );
    assert!(text_of(&browser, "#waiting").await.is_some());
    screenshot(&browser, "desktop-7-progress.png").await;
    dark(&browser, true).await;
    screenshot(&browser, "desktop-7-progress-dark.png").await;
    dark(&browser, false).await;
    // Debug builds of both ends move a few MB/s here: minutes, not seconds.
    let uploaded = until(Duration::from_secs(300), || async {
        text_of(&browser, r#".activity-item[data-path="big.bin"]"#)
            .await
            .is_some_and(|text| text.contains("Uploaded"))
    })
    .await;
    assert!(uploaded, "big.bin was not uploaded");
    assert!(
        text_of(&browser, row).await.is_none(),
        "a finished file is no longer shown moving"
    );
    invoke(&browser, "set_limits", r#"{ "upKib": null, "downKib": null }"#).await;
    // Out of the way of the mass-deletion check below (one of three files
    // deleted goes through).
    std::fs::remove_file(folder.join("big.bin")).unwrap();
    let trashed = until(Duration::from_secs(60), || async {
        text_of(&browser, r#".activity-item[data-path="big.bin"]"#)
            .await
            .is_some_and(|text| text.contains("Deleted from the server"))
    })
    .await;
    assert!(trashed, "big.bin was not deleted on the server");

    // A folder emptied by mistake: nothing is deleted on the server; the
    // app asks, and "Keep my files" brings them back. A server item whose
    // name this device cannot hold is listed in words.
    // (The harness's API client blocks: off the runtime's workers.)
    let api = tokio::task::block_in_place(|| {
        let api = drive_e2e::api::Api::login(&server, EMAIL).expect("the API");
        api.create_folder(api.root_id, ".drive")
            .expect("a folder named like the state dir");
        api
    });
    std::fs::write(folder.join("notes.txt"), "a second file").unwrap();
    let uploaded = until(Duration::from_secs(30), || async {
        text_of(&browser, r#".activity-item[data-path="notes.txt"]"#)
            .await
            .is_some_and(|text| text.contains("Uploaded"))
    })
    .await;
    assert!(uploaded, "notes.txt is not in the activity list");
    for name in ["hello.txt", "notes.txt"] {
        std::fs::remove_file(folder.join(name)).unwrap();
    }
    // Both are issues: counted on the Issues tab, told in its view.
    let badged = until(Duration::from_secs(30), || async {
        text_of(&browser, "#issues-badge").await.is_some()
    })
    .await;
    assert!(badged, "no count on the Issues tab");
    find(&browser, "#tab-issues").await.click().await.unwrap();
    let asked = until(Duration::from_secs(30), || async {
        let held = text_of(&browser, "#held").await.unwrap_or_default();
        let problems = text_of(&browser, r#".issue[data-kind="failed"]"#)
            .await
            .unwrap_or_default();
        held.contains("2 of your 2 files were deleted here") && problems.contains("cannot be kept on this device")
    })
    .await;
    assert!(
        asked,
        "held: {:?}, problems: {:?}",
        text_of(&browser, "#held").await,
        text_of(&browser, "#issues").await
    );
    let on_server = tokio::task::block_in_place(|| api.tree().expect("the server's tree"));
    assert!(on_server.contains_key("hello.txt"), "nothing deleted on the server");
    screenshot(&browser, "desktop-6-held-deletions.png").await;
    find(&browser, "#held-keep")
        .await
        .click()
        .await
        .expect("keeping the files");
    let kept = until(Duration::from_secs(30), || async {
        folder.join("hello.txt").is_file()
            && folder.join("notes.txt").is_file()
            && text_of(&browser, "#held").await.is_none()
    })
    .await;
    assert!(kept, "the files did not come back");
    find(&browser, "#tab-activity").await.click().await.unwrap();

    // A link in the folder is left alone, and said so in the Issues view.
    std::os::unix::fs::symlink(&sandbox.home, folder.join("home link")).unwrap();
    // A conflict: the file changes here (while paused) and on the server.
    std::fs::write(folder.join("plan.txt"), "first").unwrap();
    let synced = until(Duration::from_secs(30), || async {
        text_of(&browser, r#".activity-item[data-path="plan.txt"]"#)
            .await
            .is_some()
    })
    .await;
    assert!(synced, "plan.txt was not uploaded");
    invoke(&browser, "set_paused", r#"{ "paused": true }"#).await;
    std::fs::write(folder.join("plan.txt"), "changed on the desktop").unwrap();
    // (The server's `.drive` folder keeps `drive sync --once` from saying
    // "complete": its exit status is not the point here.)
    other.sync_once_output().expect("syncing the second client");
    assert!(
        other.path("plan.txt").is_file(),
        "plan.txt did not reach the other client"
    );
    std::fs::write(other.path("plan.txt"), "changed elsewhere").unwrap();
    other.sync_once_output().expect("sending the other change");
    invoke(&browser, "set_paused", r#"{ "paused": false }"#).await;
    // The activity's notice leads to the issues. (Clicked from the page:
    // the progress card coming and going moves it under a pointer click.)
    find(&browser, "#issues-notice").await;
    browser
        .execute("document.querySelector('#issues-notice').click(); return true", vec![])
        .await
        .expect("clicking the notice");
    find(&browser, "#issues").await;
    let told = until(Duration::from_secs(60), || async {
        let skipped = text_of(&browser, r#".issue[data-kind="skipped"]"#)
            .await
            .unwrap_or_default();
        let conflict = text_of(&browser, r#".issue[data-kind="conflict"]"#)
            .await
            .unwrap_or_default();
        skipped.contains("home link") && conflict.contains("plan.txt was changed here and on another device")
    })
    .await;
    assert!(told, "issues: {:?}", text_of(&browser, "#issues").await);
    let conflict = text_of(&browser, r#".issue[data-kind="conflict"]"#)
        .await
        .unwrap_or_default();
    assert!(conflict.contains("conflicted copy"), "{conflict}");
    screenshot(&browser, "desktop-8-issues.png").await;
    dark(&browser, true).await;
    screenshot(&browser, "desktop-8-issues-dark.png").await;
    dark(&browser, false).await;
    // The conflict is shown as one in the activity, not as an upload.
    find(&browser, "#tab-activity").await.click().await.unwrap();
    let copy_row = text_of(&browser, r#".activity-item[data-action="conflict_copy"]"#)
        .await
        .unwrap_or_default();
    assert!(
        copy_row.contains("Conflict") && !copy_row.contains("Uploaded"),
        "{copy_row}"
    );
    // And announced by a desktop notification.
    let notices = invoke(&browser, "get_notices", "{}").await;
    let announced = notices.as_array().into_iter().flatten().any(|notice| {
        let text = format!("{} {}", notice["title"], notice["body"]);
        text.contains("plan.txt was changed here and on another device")
    });
    assert!(announced, "no notification of the conflict: {notices}");
    // A row's "Copy share link" gives a link (and says so).
    find(&browser, r#".activity-item[data-path="plan.txt"] .share"#)
        .await
        .click()
        .await
        .expect("copying a share link");
    let shared = until(Duration::from_secs(20), || async {
        let notices = invoke(&browser, "get_notices", "{}").await;
        notices[0]["title"] == "Share link copied"
    })
    .await;
    assert!(shared, "{}", invoke(&browser, "get_notices", "{}").await);

    // Selective sync: a folder unchecked in the folder tree leaves this
    // computer and stays on the server; one with something that cannot be
    // sent stays here, and the user is told; checked again, it comes back.
    invoke(&browser, "set_paused", r#"{"paused":false}"#).await;
    tokio::task::block_in_place(|| {
        drive_e2e::write(&other.path("Archive/old/a.txt"), b"archived");
        drive_e2e::write(&other.path("Projects/plan.txt"), b"plan");
        // (Not `sync()`: the server's `.drive` folder, above, is left out
        // there, so its exit status says "incomplete".)
        other.sync_once_output().expect("the second client sends the folders");
    });
    let arrived = until(Duration::from_secs(60), || async {
        folder.join("Archive/old/a.txt").is_file() && folder.join("Projects/plan.txt").is_file()
    })
    .await;
    assert!(arrived, "the folders reach the app's folder");
    find(&browser, "#tab-folder").await.click().await.unwrap();
    let archive = find(&browser, r#"#folder-chooser input[data-path="Archive"]"#).await;
    assert_eq!(archive.prop("checked").await.unwrap().as_deref(), Some("true"));
    click_in_page(&browser, r#"#folder-chooser input[data-path="Archive"]"#).await;
    let left = until(Duration::from_secs(60), || async { !folder.join("Archive").exists() }).await;
    assert!(left, "an unchecked folder leaves this computer");
    assert!(folder.join("Projects/plan.txt").is_file());
    let kept_on_server = tokio::task::block_in_place(|| api.tree().expect("the server's tree"));
    assert!(kept_on_server.contains_key("Archive/old/a.txt"), "{kept_on_server:?}");
    browser
        .execute(
            "document.querySelector('#folder-chooser').scrollIntoView(); return true",
            vec![],
        )
        .await
        .expect("scrolling to the folders");
    screenshot(&browser, "desktop-9-folders.png").await;
    dark(&browser, true).await;
    screenshot(&browser, "desktop-9-folders-dark.png").await;
    dark(&browser, false).await;
    // Something here that cannot be sent keeps the folder, and is told.
    std::os::unix::fs::symlink("/etc/hostname", folder.join("Projects/link")).unwrap();
    drive_e2e::write(&folder.join("Projects/new.txt"), b"written here");
    click_in_page(&browser, r#"#folder-chooser input[data-path="Projects"]"#).await;
    let told = until(Duration::from_secs(60), || async {
        invoke(&browser, "get_snapshot", "{}")
            .await
            .to_string()
            .contains("excluded from sync, but kept on this device")
    })
    .await;
    assert!(told, "{}", invoke(&browser, "get_snapshot", "{}").await);
    assert!(folder.join("Projects/new.txt").is_file() && folder.join("Projects/plan.txt").is_file());
    let sent = tokio::task::block_in_place(|| api.tree().expect("the server's tree"));
    assert!(
        sent.contains_key("Projects/new.txt"),
        "sent before it may leave: {sent:?}"
    );
    std::fs::remove_file(folder.join("Projects/link")).unwrap();
    let gone = until(Duration::from_secs(90), || async { !folder.join("Projects").exists() }).await;
    assert!(gone, "with nothing left to send, the folder leaves");
    // Checked again: it downloads.
    click_in_page(&browser, r#"#folder-chooser input[data-path="Archive"]"#).await;
    let back = until(Duration::from_secs(60), || async {
        std::fs::read_to_string(folder.join("Archive/old/a.txt")).is_ok_and(|text| text == "archived")
    })
    .await;
    assert!(back, "a folder checked again downloads");

    // "Open on the web" lands signed in: the desktop is asked to open a
    // one-time hand-off URL of this server, which signs a browser in.
    find(&browser, "#open-web")
        .await
        .click()
        .await
        .expect("opening the web app");
    let prefix = format!("{}/web/handoff?code=", server.url());
    let mut handoff = None;
    let asked = until(Duration::from_secs(20), || {
        let found = std::fs::read_to_string(&sandbox.opened)
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with(&prefix))
            .map(str::to_owned);
        let done = found.is_some();
        handoff = found;
        async move { done }
    })
    .await;
    assert!(asked, "opened: {:?}", std::fs::read_to_string(&sandbox.opened));
    let landed = tokio::task::block_in_place(|| {
        reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(handoff.as_deref().unwrap_or_default())
            .send()
            .expect("following the hand-off URL")
    });
    assert_eq!(landed.status().as_u16(), 303, "{landed:?}");
    assert_eq!(
        landed.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/")
    );
    let signed_in = landed.headers().get_all("set-cookie").iter().any(|cookie| {
        cookie
            .to_str()
            .is_ok_and(|c| c.starts_with("drive_refresh=") && c.contains("HttpOnly"))
    });
    assert!(signed_in, "the browser gets a session: {:?}", landed.headers());
    // From an activity row: the file's folder, in the web app.
    find(&browser, "#tab-activity").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let row = loop {
        let clicked = browser
            .execute(
                "const row = [...document.querySelectorAll('.activity-item')].find((r) => r.querySelector('.web')); \
                 if (!row) return null; row.querySelector('.web').click(); return row.dataset.path",
                vec![],
            )
            .await
            .expect("looking for an activity row");
        if let Some(path) = clicked.as_str() {
            break path.to_owned();
        }
        assert!(Instant::now() < deadline, "no activity row with Open on the web");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let page = match row.rsplit_once('/') {
        Some((parent, _)) => {
            let id = tokio::task::block_in_place(|| api.id(parent).expect("the row's folder on the server"));
            format!("/files/{id}")
        }
        None => "/files".to_owned(),
    };
    let to_folder = format!("&to={page}");
    let asked = until(Duration::from_secs(20), || async {
        std::fs::read_to_string(&sandbox.opened)
            .unwrap_or_default()
            .lines()
            .any(|line| line.starts_with(&prefix) && line.ends_with(&to_folder))
    })
    .await;
    assert!(asked, "opened: {:?}", std::fs::read_to_string(&sandbox.opened));

    // The other settings screens.
    find(&browser, "#tab-network").await.click().await.unwrap();
    find(&browser, "#up-limit").await;
    screenshot(&browser, "desktop-4-network.png").await;
    find(&browser, "#tab-account").await.click().await.unwrap();
    let shown = until(Duration::from_secs(5), || async {
        text_of(&browser, "#account-email").await.as_deref() == Some(EMAIL)
    })
    .await;
    assert!(shown);
    // The space used, from the server (200 MB and a few small files).
    let quota = until(Duration::from_secs(20), || async {
        text_of(&browser, "#quota-label")
            .await
            .is_some_and(|text| text.contains("MB") && text.contains("used"))
    })
    .await;
    assert!(quota, "quota: {:?}", text_of(&browser, "#quota-label").await);
    screenshot(&browser, "desktop-5-account.png").await;
    dark(&browser, true).await;
    screenshot(&browser, "desktop-5-account-dark.png").await;
    dark(&browser, false).await;
    // Signing out asks first.
    find(&browser, "#sign-out").await.click().await.unwrap();
    find(&browser, "#sign-out-confirm").await;
    find(&browser, "#sign-out-no").await.click().await.unwrap();
    assert!(text_of(&browser, "#sign-out-confirm").await.is_none());

    let _ = browser.close().await;
    drop(driver);
    sandbox.kill_apps();
}

/// The installed package (scripts/test-packages sets `DRIVE_DESKTOP_APP` to
/// the program of its .desktop file's Exec line): signs in against a real
/// server, syncs a file, gives a share link through the packaged `drive`
/// CLI, turns start at login on (the entry must name the installed binary)
/// and off, and quits on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_app_signs_in_syncs_a_file_and_quits() {
    let Some(installed) = std::env::var_os("DRIVE_DESKTOP_APP").map(PathBuf::from) else {
        eprintln!("skipped: DRIVE_DESKTOP_APP is not set (scripts/test-packages runs this against the installed .deb)");
        return;
    };
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "needs an X display: run through scripts/test-packages (dbus-run-session -- xvfb-run)"
    );
    let server = Server::start().expect("drive-server");
    let sandbox = Sandbox::new();
    let driver = Driver::start(&sandbox);
    let browser = open_app(&driver).await;

    // The process WebDriver started is the installed program.
    let apps = running_apps(&sandbox);
    assert!(
        apps.iter().any(|(_, exe)| *exe == installed),
        "the app running is not {}: {apps:?}",
        installed.display()
    );

    find(&browser, "#toggle-create")
        .await
        .click()
        .await
        .expect("switching to create");
    type_into(&browser, "#server", &server.url()).await;
    type_into(&browser, "#email", EMAIL).await;
    type_into(&browser, "#password", PASSWORD).await;
    type_into(&browser, "#confirm-password", PASSWORD).await;
    find(&browser, "#sign-in")
        .await
        .click()
        .await
        .expect("creating the account");
    let folder = sandbox.home.join("Drive");
    type_into(&browser, "#folder", &folder.to_string_lossy()).await;
    find(&browser, "#start").await.click().await.expect("starting to sync");
    find(&browser, "#status-label").await;
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("packaged.txt"), "synced by the installed app").unwrap();
    let listed = until(Duration::from_secs(60), || async {
        text_of(&browser, r#".activity-item[data-path="packaged.txt"]"#)
            .await
            .is_some_and(|text| text.contains("Uploaded"))
    })
    .await;
    assert!(listed, "packaged.txt is not in the activity list");
    screenshot(&browser, "desktop-installed-activity.png").await;
    let other = Client::login(&server, EMAIL).expect("signing in a second client");
    other.sync().expect("syncing the second client");
    assert_eq!(
        std::fs::read_to_string(other.path("packaged.txt")).expect("packaged.txt on the server"),
        "synced by the installed app"
    );

    // The packaged CLI next to the app asks the running app for a link.
    let cli = Path::new(&installed).with_file_name("drive");
    let file = folder.join("packaged.txt");
    let shared = share_with(&cli, &["share", &file.to_string_lossy()], &sandbox);
    assert!(
        shared.status.success(),
        "{} share: {}",
        cli.display(),
        String::from_utf8_lossy(&shared.stderr)
    );
    assert!(String::from_utf8_lossy(&shared.stdout).starts_with(&format!("{}/s/", server.url())));

    // Start at login names the installed binary, never a build folder.
    let autostart = sandbox.home.join(".config/autostart/Drive.desktop");
    browser
        .execute(
            "return window.__TAURI_INTERNALS__.invoke('set_autostart', { enabled: true }).then(() => 'ok')",
            vec![],
        )
        .await
        .expect("turning start at login on");
    assert!(
        eventually(Duration::from_secs(10), || autostart.is_file()),
        "no {}",
        autostart.display()
    );
    let entry = std::fs::read_to_string(&autostart).expect("the autostart entry");
    let exec = entry
        .lines()
        .find_map(|line| line.strip_prefix("Exec="))
        .expect("an Exec line");
    assert_eq!(exec.trim(), format!("{} --hidden", installed.display()), "{entry}");
    browser
        .execute(
            "return window.__TAURI_INTERNALS__.invoke('set_autostart', { enabled: false }).then(() => 'ok')",
            vec![],
        )
        .await
        .expect("turning start at login off");
    assert!(
        eventually(Duration::from_secs(10), || !autostart.exists()),
        "the autostart entry is still there"
    );

    // Quit, as the tray's and the window's "Quit Drive" do: the app stops
    // syncing and exits by itself.
    let _ = browser
        .execute("window.__TAURI_INTERNALS__.invoke('quit'); return 'ok'", vec![])
        .await;
    let quit = eventually(Duration::from_secs(20), || running_apps(&sandbox).is_empty());
    let left = running_apps(&sandbox);
    let _ = browser.close().await;
    drop(driver);
    sandbox.kill_apps();
    assert!(quit, "the app did not quit: {left:?}");
}
