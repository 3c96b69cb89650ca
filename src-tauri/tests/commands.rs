//! The Tauri commands, invoked as the web view invokes them, through Tauri's
//! mock runtime: errors cross as `{kind, message}`, settings persist, and
//! against a real `drive-server`: sign in, choose a folder, see a file's
//! upload in the activity, get a share link, sign out.

use std::{path::Path, time::Duration};

use drive_desktop::desktop::Desktop;
use drive_e2e::{eventually, Server};
use serde_json::{json, Value};
use tauri::{
    ipc::{CallbackFn, InvokeBody},
    test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY},
    webview::InvokeRequest,
    App, WebviewWindow,
};

struct Harness {
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    home: tempfile::TempDir,
}

fn start() -> Harness {
    // Tokens in a file in the temp home, never in the user's keyring.
    std::env::set_var("DRIVE_CREDENTIALS", "file");
    let home = tempfile::tempdir().expect("a temp home");
    let desktop = Desktop::open(home.path()).expect("opening the app state");
    let app = drive_desktop::with_commands(mock_builder())
        .manage(desktop)
        .build(mock_context(noop_assets()))
        .expect("building the mock app");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("a mock window");
    Harness {
        _app: app,
        webview,
        home,
    }
}

impl Harness {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("a URL"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.webview, request).map(|body| body.deserialize::<Value>().expect("JSON"))
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|error| panic!("{cmd} failed: {error}"))
    }

    fn error_kind(&self, cmd: &str, args: Value) -> String {
        let error = self.invoke(cmd, args).expect_err("the command should fail");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
        error["kind"].as_str().unwrap_or_default().to_owned()
    }

    fn snapshot(&self) -> Value {
        self.ok("get_snapshot", json!({}))
    }
}

#[test]
fn before_sign_in_the_snapshot_asks_for_setup() {
    let app = start();
    let snapshot = app.snapshot();
    assert_eq!(snapshot["account"], Value::Null);
    assert_eq!(snapshot["folder"], Value::Null);
    assert!(snapshot["default_folder"].as_str().unwrap().ends_with("Drive"));
    assert_eq!(snapshot["status"]["summary"]["state"], "signed_out");
    // A neutral state, not an error: nothing was ever signed in.
    assert_eq!(snapshot["status"]["label"], "Not set up");
    assert_eq!(snapshot["activity"], json!([]));
    assert_eq!(snapshot["issues"], json!([]));
    assert_eq!(snapshot["settings"]["autostart"], false);
}

#[test]
fn errors_cross_the_bridge_typed() {
    let app = start();
    let sign_in =
        |server: &str| json!({"server": server, "email": "ann@example.com", "password": "pw", "create": false});
    assert_eq!(app.error_kind("sign_in", sign_in("ftp://example.com")), "invalid");
    // Nothing listens on this port: the server cannot be reached, said in
    // words (no OS error code), and the address is offered again next time.
    let closed = format!("http://127.0.0.1:{}", drive_e2e::free_port());
    let refused = app.invoke("sign_in", sign_in(&closed)).expect_err("nothing listens");
    assert_eq!(refused["kind"], "offline");
    assert_eq!(
        refused["message"],
        "The server at 127.0.0.1 is not answering. Check the address or your connection."
    );
    if std::env::var_os("DRIVE_SERVER").is_none() {
        assert_eq!(app.snapshot()["default_server"], closed);
    }
    assert_eq!(
        app.error_kind("choose_folder", json!({"path": "/tmp/x"})),
        "not_signed_in"
    );
    assert_eq!(app.error_kind("set_ignore", json!({"patterns": "*.tmp"})), "no_folder");
    assert_eq!(app.error_kind("open_folder", json!({})), "no_folder");
    assert_eq!(app.error_kind("copy_share_link", json!({"path": "/tmp"})), "no_folder");
    // The autostart plugin is not part of the mock app.
    assert_eq!(app.error_kind("set_autostart", json!({"enabled": true})), "unsupported");
}

#[test]
fn pause_and_limits_persist() {
    let app = start();
    app.ok("set_paused", json!({"paused": true}));
    app.ok("set_limits", json!({"upKib": 256, "downKib": null}));
    let settings = &app.snapshot()["settings"];
    assert_eq!(settings["paused"], true);
    assert_eq!(settings["up_kib"], 256);
    assert_eq!(settings["down_kib"], Value::Null);
    // A zero limit means none.
    app.ok("set_limits", json!({"upKib": 0, "downKib": 1024}));
    let saved: Value = serde_json::from_slice(&std::fs::read(app.home.path().join("desktop.json")).unwrap()).unwrap();
    assert_eq!(saved["paused"], true);
    assert_eq!(saved["limits"], json!({"up_kib": null, "down_kib": 1024}));
}

fn activity_paths(snapshot: &Value) -> Vec<(String, String)> {
    snapshot["activity"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| {
                    (
                        a["text"].as_str().unwrap_or("").to_owned(),
                        a["path"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sign_in_sync_share_and_sign_out_against_a_real_server() {
    let server = Server::start().expect("drive-server");
    let app = start();
    let folder = tempfile::tempdir().unwrap();
    let account = app.ok(
        "sign_in",
        json!({"server": server.url(), "email": "ann@example.com", "password": "correct horse battery", "create": true}),
    );
    assert_eq!(account["email"], "ann@example.com");
    // A second account with the same email is refused in words.
    let again = app
        .invoke(
            "sign_in",
            json!({"server": server.url(), "email": "ann@example.com", "password": "x", "create": true}),
        )
        .expect_err("the email is taken");
    assert_eq!(again["kind"], "failed");
    assert_eq!(
        app.error_kind(
            "sign_in",
            json!({"server": server.url(), "email": "ann@example.com", "password": "wrong password", "create": false})
        ),
        "wrong_password"
    );
    let synced = folder.path().join("Drive");
    let chosen = app.ok("choose_folder", json!({"path": synced}));
    let synced = std::fs::canonicalize(&synced).unwrap();
    assert_eq!(chosen, json!(synced));
    std::fs::write(synced.join("hello.txt"), "hello from the desktop").unwrap();

    let uploaded = eventually(Duration::from_secs(30), || {
        let snapshot = app.snapshot();
        activity_paths(&snapshot).contains(&("Uploaded".into(), "hello.txt".into()))
            && snapshot["status"]["summary"]["state"] == "up_to_date"
    });
    assert!(uploaded, "no upload in the activity: {}", app.snapshot());
    assert_eq!(app.snapshot()["status"]["label"], "Up to date");
    // The space used, from the server.
    let quota = app.ok("get_quota", json!({}));
    assert!(quota["used_bytes"].as_u64().is_some_and(|used| used > 0), "{quota}");
    assert!(
        quota["label"].as_str().is_some_and(|label| label.ends_with("used")),
        "{quota}"
    );
    // The activity is kept for the next start.
    let kept = std::fs::read_to_string(app.home.path().join("activity.jsonl")).expect("the history file");
    assert!(kept.contains("\"hello.txt\""), "{kept}");
    // Row actions name files relative to the folder; a file not there is refused in words.
    let gone = app
        .invoke("share_item", json!({"path": "nope.txt"}))
        .expect_err("no such file");
    assert_eq!(gone["message"], "nope.txt is not in your Drive folder any more.");
    let shared = app.ok("share_item", json!({"path": "hello.txt"}));
    assert!(shared.as_str().is_some_and(|url| url.contains("/s/")), "{shared}");

    let url = app.ok("copy_share_link", json!({"path": synced.join("hello.txt")}));
    let url = url.as_str().expect("a URL");
    assert!(url.starts_with(&format!("{}/s/", server.url())), "{url}");
    let page = reqwest::blocking::get(url).expect("the link page");
    assert!(page.status().is_success());
    // A path outside the folder gets no link.
    assert_eq!(
        app.error_kind("copy_share_link", json!({"path": folder.path()})),
        "invalid"
    );

    app.ok("set_ignore", json!({"patterns": "*.tmp\nbuild/"}));
    assert_eq!(
        std::fs::read_to_string(synced.join(".driveignore")).unwrap(),
        "*.tmp\nbuild/\n"
    );
    assert_eq!(app.snapshot()["ignore"], "*.tmp\nbuild/\n");

    app.ok("sign_out", json!({}));
    let snapshot = app.snapshot();
    assert_eq!(snapshot["account"], Value::Null);
    assert_eq!(snapshot["folder"], Value::Null);
    assert!(!Path::new(&app.home.path().join("config.json")).exists());
    // The files stay where they are.
    assert!(synced.join("hello.txt").is_file());
}
