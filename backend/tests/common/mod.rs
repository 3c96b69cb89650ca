//! The harness of the HTTP integration tests: a real `drive-server` process on
//! a loopback port with its own temporary data dir, and a small client for it.
//!
//! Every test starts its own server, so tests are independent and run in
//! parallel. The server is killed when its [`TestServer`] is dropped; if the
//! test is failing at that point, the tail of the server's log is printed.
//!
//! With `DRIVE_TEST_S3_ENDPOINT`, `DRIVE_TEST_S3_BUCKET`,
//! `DRIVE_TEST_S3_ACCESS_KEY_ID` and `DRIVE_TEST_S3_SECRET_ACCESS_KEY` set
//! (`scripts/garage` writes them), every server keeps its blocks and photos in
//! that S3 bucket, under a prefix of its own, instead of its data dir. Tests
//! that look at the local store itself skip themselves then ([`skip_on_s3`]).

// Each test file uses a different subset of the helpers.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use chrono::{DateTime, SubsecRound, Utc};
use drive_wire::{
    BlockHash, BlockRef, ChangesPage, CommitRequest, CreateFolderRequest, CreateShareRequest, Manifest, Node, NodeId,
    PresignedBlock, RegisterAnswer, RegisterStatus, RevisionId, Share, ShareId, ShareList, ShareRole, TokenPair,
    UploadPlan, User,
};
use rand::{rngs::StdRng, RngCore, SeedableRng};
use reqwest::{header::HeaderMap, Method, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Block size the tests cut files into (the server accepts up to 16 MiB).
pub const BLOCK: usize = 64 * 1024;
/// Password of every account the harness registers.
pub const PASSWORD: &str = "correct horse battery staple";
const START_TIMEOUT: Duration = Duration::from_secs(60);

const BIN: &str = env!("CARGO_BIN_EXE_drive-server");

/// The S3 store of the test run, from the environment.
#[derive(Debug, Clone)]
pub struct S3Env {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub fn s3_env() -> Option<S3Env> {
    let var = |name: &str| {
        std::env::var(format!("DRIVE_TEST_S3_{name}"))
            .ok()
            .filter(|v| !v.is_empty())
    };
    Some(S3Env {
        endpoint: var("ENDPOINT")?,
        region: var("REGION").unwrap_or_else(|| "garage".into()),
        bucket: var("BUCKET")?,
        access_key_id: var("ACCESS_KEY_ID")?,
        secret_access_key: var("SECRET_ACCESS_KEY")?,
    })
}

pub fn on_s3() -> bool {
    s3_env().is_some()
}

/// True (and says so) when the servers run on S3: for tests of the local
/// store itself (its files, its own presigned URL endpoint), which the run
/// on the local store covers. Use as `if skip_on_s3("why") { return; }`.
pub fn skip_on_s3(why: &str) -> bool {
    let skip = on_s3();
    if skip {
        eprintln!("skipped on S3: {why}");
    }
    skip
}

/// The environment that puts a server's blobs in S3 under `prefix`; empty
/// without S3.
fn store_env(prefix: &str) -> Vec<(String, String)> {
    let Some(s3) = s3_env() else { return Vec::new() };
    [
        ("DRIVE_BLOB_STORE", "s3"),
        ("DRIVE_S3_ENDPOINT", &s3.endpoint),
        ("DRIVE_S3_REGION", &s3.region),
        ("DRIVE_S3_BUCKET", &s3.bucket),
        ("DRIVE_S3_PREFIX", prefix),
        ("DRIVE_S3_PATH_STYLE", "true"),
        ("DRIVE_S3_ACCESS_KEY_ID", &s3.access_key_id),
        ("DRIVE_S3_SECRET_ACCESS_KEY", &s3.secret_access_key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A `drive-server` process with its own data dir.
pub struct TestServer {
    child: Option<Child>,
    /// Where its blobs are, when not in the data dir (S3).
    store_env: Vec<(String, String)>,
    // Removed (with the data) when the server is dropped.
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    log_path: PathBuf,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub http: reqwest::Client,
}

/// A `drive-server` command for the server whose data is in `data_dir`,
/// with `store_env` choosing its blob store.
fn command(data_dir: &Path, store_env: &[(String, String)]) -> Command {
    let mut command = Command::new(BIN);
    // Settings from the environment of whoever runs the tests must not leak in.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DRIVE_") {
            command.env_remove(key);
        }
    }
    command.env_remove("RUST_LOG");
    // A CA bundle from the machine's environment would be loaded for the
    // plain-HTTP loopback store and can only get in the way (SERVERS-NOTES).
    for key in ["AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"] {
        command.env_remove(key);
    }
    command.envs(store_env.iter().map(|(k, v)| (k, v)));
    command.arg("--data-dir").arg(data_dir);
    if let Some(database) = Database::of(data_dir) {
        command.env("DRIVE_DATABASE_URL", database.url);
    }
    command
}

/// With `DRIVE_TEST_DATABASE_URL` (a PostgreSQL server whose user may create
/// databases; `scripts/test` starts one), every test server gets a database
/// of its own there; without it, the embedded SQLite in its data dir.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn of(data_dir: &Path) -> Option<Database> {
        let admin_url = std::env::var("DRIVE_TEST_DATABASE_URL").ok()?;
        // Named after the data dir, which is unique and stays the same
        // across restarts of one test server.
        let digest = Sha256::digest(data_dir.to_string_lossy().as_bytes());
        let name = format!("t_{}", &hex::encode(digest)[..20]);
        let mut url = reqwest::Url::parse(&admin_url).expect("DRIVE_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(Database {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    fn psql(&self, sql: &str) {
        let output = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.admin_url, "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("running psql: {e}"));
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn create(&self) {
        self.psql(&format!("CREATE DATABASE {}", self.name));
    }

    fn drop(&self) {
        self.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("building the HTTP client")
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra flags, e.g. `&["--presign-ttl", "1"]`.
    pub async fn start_with(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("creating a temp dir for the server");
        let data_dir = dir.path().join("data");
        Self::launch(dir, data_dir, args)
    }

    /// Starts a server whose data dir is `data_dir` (e.g. a small [`Tmpfs`]),
    /// made by the caller and left to it; the log goes to a temp dir.
    pub async fn start_in(data_dir: &Path, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("creating a temp dir for the server log");
        Self::launch(dir, data_dir.to_owned(), args)
    }

    /// Starts a server on `data_dir`, its log in `dir` (kept with it).
    fn launch(dir: tempfile::TempDir, data_dir: PathBuf, args: &[&str]) -> Self {
        let log_path = dir.path().join("server.log");
        if let Some(database) = Database::of(&data_dir) {
            database.create();
        }
        let store_env = store_env(&format!("test-{}", uuid::Uuid::new_v4()));
        let (child, addr) = spawn(&data_dir, &log_path, &store_env, args);
        TestServer {
            child: Some(child),
            store_env,
            _dir: dir,
            data_dir,
            log_path,
            addr,
            base: format!("http://{addr}"),
            http: http_client(),
        }
    }

    /// Stops the server and starts it again on the same data dir, with these
    /// flags. It listens on a new port: make clients anew with [`TestServer::client`].
    pub fn restart_with(&mut self, args: &[&str]) {
        self.stop();
        let (child, addr) = spawn(&self.data_dir, &self.log_path, &self.store_env, args);
        self.child = Some(child);
        self.addr = addr;
        self.base = format!("http://{addr}");
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's log (stderr) so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// A request without credentials.
    pub async fn send(&self, method: Method, path: &str) -> Resp {
        Resp::read(
            self.http
                .request(method.clone(), self.url(path))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}")),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path).await
    }

    /// POST a JSON body without credentials.
    pub async fn post<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> Resp {
        Resp::read(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {path}: {e}")),
        )
        .await
    }

    /// POST raw bytes labelled as JSON (for malformed-body tests).
    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: &'static [u8]) -> Resp {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Resp::read(request.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))).await
    }

    pub async fn register_raw(&self, email: &str, password: &str, device: Option<&str>) -> Resp {
        self.post(
            "/api/v1/auth/register",
            &serde_json::json!({"email": email, "password": password, "device_name": device}),
        )
        .await
    }

    pub async fn login_raw(&self, email: &str, password: &str, device: Option<&str>) -> Resp {
        self.post(
            "/api/v1/auth/login",
            &serde_json::json!({"email": email, "password": password, "device_name": device}),
        )
        .await
    }

    pub async fn refresh_raw(&self, refresh_token: &str) -> Resp {
        self.post(
            "/api/v1/auth/refresh",
            &serde_json::json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// Registers an account (password [`PASSWORD`]) and returns a client
    /// signed in to it: registering answers no tokens (202, the same whether
    /// or not the email was taken), so this signs in next.
    pub async fn register(&self, email: &str) -> Client {
        self.register_raw(email, PASSWORD, None).await.expect_registered();
        self.login(email, "test-device").await
    }

    /// Signs in to an existing account (password [`PASSWORD`]): a new session.
    pub async fn login(&self, email: &str, device: &str) -> Client {
        let resp = self.login_raw(email, PASSWORD, Some(device)).await;
        resp.expect_status(200);
        let tokens: TokenPair = resp.parse();
        self.client(email, tokens)
    }

    /// A client using the given tokens.
    pub fn client(&self, email: &str, tokens: TokenPair) -> Client {
        Client {
            base: self.base.clone(),
            http: self.http.clone(),
            email: email.to_owned(),
            tokens,
        }
    }

    /// Stops the server (it may be started again with [`TestServer::restart_with`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `drive-server --check` on the data dir while the server runs.
    pub fn check_running(&self) {
        run_check(&self.data_dir, &self.store_env);
    }

    /// Stops the server and runs `drive-server --check` on its data dir,
    /// asserting that metadata and blob store are consistent.
    pub fn check(&mut self) {
        self.stop();
        run_check(&self.data_dir, &self.store_env);
    }

    /// Its database, opened as the server opens it (SQLite in the data dir,
    /// or its own PostgreSQL database), for a test that damages a row.
    pub async fn database(&self) -> drive_server::storage::Db {
        let url = match Database::of(&self.data_dir) {
            Some(database) => database.url,
            None => format!("sqlite://{}", self.data_dir.join("metadata.db").display()),
        };
        drive_server::storage::Db::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("opening the test server's database: {e}"))
    }

    /// Stops the server and runs `drive-server --check` on its data dir;
    /// returns whether it found everything consistent, and what it printed.
    pub fn check_report(&mut self) -> (bool, String) {
        self.stop();
        let output = command(&self.data_dir, &self.store_env)
            .arg("--check")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {BIN} --check: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    /// Runs one garbage collection pass (`drive-server --gc-once`) on the
    /// server's data and store, with extra flags (e.g. `--gc-grace 0`);
    /// returns what it printed.
    pub fn gc_once(&self, args: &[&str]) -> String {
        let output = command(&self.data_dir, &self.store_env)
            .arg("--gc-once")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {BIN} --gc-once: {e}"));
        assert!(
            output.status.success(),
            "drive-server --gc-once failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs an administration command (`drive-server --data-dir DIR user add
    /// EMAIL`, ...) on the server's database while it runs, with `stdin` as
    /// its standard input; returns whether it succeeded, its stdout and stderr.
    pub fn admin(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        use std::io::Write;
        let mut child = command(&self.data_dir, &self.store_env)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {BIN} {args:?}: {e}"));
        child
            .stdin
            .take()
            .expect("the child's stdin is piped")
            .write_all(stdin.as_bytes())
            .expect("writing the command's stdin");
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("running {BIN} {args:?}: {e}"));
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// [`TestServer::admin`] that must succeed; returns its stdout.
    #[track_caller]
    pub fn admin_ok(&self, args: &[&str], stdin: &str) -> String {
        let (ok, stdout, stderr) = self.admin(args, stdin);
        assert!(
            ok,
            "drive-server {args:?} failed:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        stdout
    }

    /// Whether the blob store holds the block, asked of the store itself.
    pub async fn stored(&self, hash: BlockHash) -> bool {
        match s3_env() {
            None => {
                let hex = hash.to_string();
                self.data_dir.join("blobs").join(&hex[..2]).join(hex).exists()
            }
            Some(s3) => {
                let prefix = self
                    .store_env
                    .iter()
                    .find(|(k, _)| k == "DRIVE_S3_PREFIX")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let store = drive_server::storage::S3BlobStore::open(drive_server::storage::S3Settings {
                    endpoint: Some(s3.endpoint),
                    public_endpoint: None,
                    region: Some(s3.region),
                    bucket: s3.bucket,
                    prefix,
                    path_style: true,
                    credentials: Some((s3.access_key_id, s3.secret_access_key)),
                })
                .await
                .expect("opening the test S3 store");
                drive_server::storage::BlobStore::stored_size(&store, hash)
                    .await
                    .expect("asking the S3 store")
                    .is_some()
            }
        }
    }
}

/// Where a test reaches a server's stored objects directly, behind its back:
/// a block's (`blocks/HASH`) or a quarantined one's (`quarantine/HASH`), in
/// the data dir or in S3 (with curl's SigV4).
impl TestServer {
    fn object_path(&self, key: &str) -> PathBuf {
        match key.split_once('/') {
            Some(("blocks", hex)) => self.data_dir.join("blobs").join(&hex[..2]).join(hex),
            Some(("quarantine", hex)) => self.data_dir.join("blobs").join("quarantine").join(hex),
            _ => panic!("no such object kind: {key}"),
        }
    }

    fn s3_object(&self, s3: &S3Env, key: &str, put: Option<&[u8]>) -> Option<Vec<u8>> {
        let prefix = self
            .store_env
            .iter()
            .find(|(k, _)| k == "DRIVE_S3_PREFIX")
            .map(|(_, v)| v.trim_matches('/').to_owned())
            .unwrap_or_default();
        let key = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}/{key}")
        };
        let mut curl = Command::new("curl");
        curl.args(["-s", "-o", "-", "-w", "\\n%{http_code}"])
            .args(["--aws-sigv4", &format!("aws:amz:{}:s3", s3.region)])
            .args(["--user", &format!("{}:{}", s3.access_key_id, s3.secret_access_key)])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(format!("{}/{}/{key}", s3.endpoint.trim_end_matches('/'), s3.bucket));
        if put.is_some() {
            curl.args(["-X", "PUT", "--data-binary", "@-"]);
        }
        curl.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = curl.spawn().expect("running curl");
        if let Some(bytes) = put {
            child
                .stdin
                .take()
                .expect("curl's stdin")
                .write_all(bytes)
                .expect("feeding curl");
        }
        let output = child.wait_with_output().expect("waiting for curl");
        let mut body = output.stdout;
        let split = body.iter().rposition(|&b| b == b'\n').expect("curl's status line");
        let status = String::from_utf8_lossy(&body[split + 1..]).into_owned();
        body.truncate(split);
        match status.as_str() {
            "200" => Some(body),
            "404" => None,
            other => panic!("S3 {key}: HTTP {other}: {}", String::from_utf8_lossy(&body)),
        }
    }

    /// The bytes of a stored object (`blocks/HASH`, `quarantine/HASH`), if any.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        match s3_env() {
            Some(s3) => self.s3_object(&s3, key, None),
            None => std::fs::read(self.object_path(key)).ok(),
        }
    }

    /// Overwrites a stored object with other bytes (a corruption).
    pub fn overwrite_object(&self, key: &str, bytes: &[u8]) {
        match s3_env() {
            Some(s3) => {
                self.s3_object(&s3, key, Some(bytes));
            }
            None => std::fs::write(self.object_path(key), bytes).expect("overwriting the object"),
        }
    }
}

/// Starts a `drive-server` process and waits for the address it listens on.
fn spawn(data_dir: &Path, log_path: &Path, store_env: &[(String, String)], args: &[&str]) -> (Child, SocketAddr) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .expect("opening the server log file");
    let mut child = command(data_dir, store_env)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {BIN}: {e}"));
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = reader.read_line(&mut line).map(|_| line);
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            let _ = child.kill();
            panic!("reading the server's stdout: {e}\n{}", read_log(log_path))
        }
        Err(_) => {
            let _ = child.kill();
            panic!(
                "the server printed no line within {START_TIMEOUT:?}\n{}",
                read_log(log_path)
            )
        }
    };
    let addr: SocketAddr = match line.trim_end().strip_prefix("listening on ").map(str::parse) {
        Some(Ok(addr)) => addr,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server's first stdout line is not `listening on ADDR`: {line:?}\n{}",
                read_log(log_path)
            )
        }
    };
    (child, addr)
}

fn run_check(data_dir: &Path, store_env: &[(String, String)]) {
    let output = command(data_dir, store_env)
        .arg("--check")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {BIN} --check: {e}"));
    assert!(
        output.status.success(),
        "drive-server --check found problems ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"));
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(60)..];
    format!("--- server log (last {} lines)\n{}", tail.len(), tail.join("\n"))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!("{}", self.log());
        }
        self.stop();
        if let Some(database) = Database::of(&self.data_dir) {
            database.drop();
        }
    }
}

// ---------------------------------------------------------------- small disks

/// A small tmpfs of its own, for tests of a full disk (root only: `mount -t
/// tmpfs -o size=SIZE`); unmounted when dropped. Drop the server using it
/// first.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `"8m"`). When that is not possible
    /// (not root, no mount): `None` with a message, so the test skips
    /// itself; but under CI (env `CI` set) it fails instead.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("creating a mount point");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        let failure = match output {
            Ok(output) if output.status.success() => return Some(Tmpfs { dir }),
            Ok(output) => format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
            Err(e) => e.to_string(),
        };
        let message = format!("mounting a {size} tmpfs failed ({failure}): this test needs root");
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("skipped: {message}");
        None
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Changes its size in place (`mount -o remount,size=SIZE`), e.g. to
    /// give space back.
    pub fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("running mount");
        assert!(status.success(), "remounting the tmpfs with size={size}: {status}");
    }

    /// Bytes free for an unprivileged writer now.
    pub fn available(&self) -> u64 {
        let output = Command::new("stat")
            .args(["-f", "--format=%a %S"])
            .arg(self.dir.path())
            .output()
            .expect("running stat -f");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut fields = text
            .split_whitespace()
            .map(|f| f.parse::<u64>().expect("a number from stat -f"));
        let (blocks, block_size) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
        blocks * block_size
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

// ---------------------------------------------------------------- responses

/// A whole response, read eagerly so assertions can print it.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub async fn read(response: reqwest::Response) -> Resp {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("reading a {status} response body: {e}"))
            .to_vec();
        Resp { status, headers, body }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a {} response is not JSON ({e}): {}", self.status, self.text()))
    }

    #[track_caller]
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "a {} response does not parse as {} ({e}): {}",
                self.status,
                std::any::type_name::<T>(),
                self.text()
            )
        })
    }

    pub fn status_json(&self) -> (StatusCode, Value) {
        (self.status, self.json())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header value is ASCII").to_owned())
    }

    /// The `error.code` of an error body, if it is one.
    pub fn code(&self) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()?
            .pointer("/error/code")?
            .as_str()
            .map(ToOwned::to_owned)
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected status {status}, got {}: {}",
            self.status,
            self.text()
        );
        self
    }

    /// Asserts the status and the error shape
    /// `{"error": {"code": code, "message": "...", "request_id": <x-request-id>}}`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        self.expect_status(status);
        let body = self.expect_error_shape();
        assert_eq!(
            body["error"]["code"].as_str(),
            Some(code),
            "expected error code {code:?}: {}",
            self.text()
        );
        body
    }

    /// Asserts the answer of a registration that was not refused: 202 and
    /// `{"status": "created_or_exists", "message": ...}`, nothing more (no
    /// tokens, nothing that depends on whether the email was taken); returns
    /// the body.
    #[track_caller]
    pub fn expect_registered(&self) -> Value {
        self.expect_status(202);
        let answer: RegisterAnswer = self.parse();
        assert_eq!(answer.status, RegisterStatus::CreatedOrExists, "{}", self.text());
        assert!(!answer.message.is_empty(), "{}", self.text());
        let body = self.json();
        let mut keys: Vec<&str> = body
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["message", "status"], "{}", self.text());
        body
    }

    /// Asserts the error shape with any code; returns the body.
    #[track_caller]
    pub fn expect_error_shape(&self) -> Value {
        let body = self.json();
        assert!(
            body["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
            "an error body has a string error.code: {}",
            self.text()
        );
        assert!(
            body["error"]["message"].is_string(),
            "an error body has a string error.message: {}",
            self.text()
        );
        let header = self.header("x-request-id");
        assert!(header.is_some(), "an error response carries x-request-id");
        assert_eq!(
            body["error"]["request_id"].as_str(),
            header.as_deref(),
            "error.request_id is the x-request-id header: {}",
            self.text()
        );
        body
    }
}

// ---------------------------------------------------------------- content

pub fn sha256(bytes: &[u8]) -> BlockHash {
    BlockHash::from_bytes(Sha256::digest(bytes).into())
}

/// `len` pseudo-random bytes, the same for the same seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut out);
    out
}

/// A random 64-hex-digit hash nobody has uploaded.
pub fn random_hash() -> BlockHash {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    BlockHash::from_bytes(raw)
}

/// Splits content into [`BLOCK`]-sized blocks.
pub fn split(content: &[u8]) -> Vec<(BlockRef, Vec<u8>)> {
    content
        .chunks(BLOCK)
        .map(|chunk| {
            (
                BlockRef {
                    hash: sha256(chunk),
                    size: chunk.len() as u64,
                },
                chunk.to_vec(),
            )
        })
        .collect()
}

/// Now, to the millisecond (what the server keeps).
pub fn now_ms() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A commit request for `content`, and the bytes of each of its blocks.
pub fn commit_request(
    parent_id: NodeId,
    name: &str,
    content: &[u8],
    base_revision: Option<RevisionId>,
) -> (CommitRequest, HashMap<BlockHash, Vec<u8>>) {
    commit_request_at(parent_id, name, content, base_revision, now_ms())
}

pub fn commit_request_at(
    parent_id: NodeId,
    name: &str,
    content: &[u8],
    base_revision: Option<RevisionId>,
    modified: DateTime<Utc>,
) -> (CommitRequest, HashMap<BlockHash, Vec<u8>>) {
    let blocks = split(content);
    let request = CommitRequest {
        parent_id,
        name: name.to_owned(),
        base_revision,
        blocks: blocks.iter().map(|(r, _)| *r).collect(),
        modified,
        inline: Vec::new(),
    };
    (request, blocks.into_iter().map(|(r, b)| (r.hash, b)).collect())
}

/// PUTs bytes to a presigned URL (no credentials).
pub async fn put_url(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Resp {
    Resp::read(
        http.put(url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {url}: {e}")),
    )
    .await
}

/// PUTs a block's bytes to its presigned URL with the headers the URL was
/// signed with (no credentials).
pub async fn put_block(http: &reqwest::Client, block: &PresignedBlock, body: Vec<u8>) -> Resp {
    let mut request = http.put(&block.url).header("content-type", "application/octet-stream");
    for (name, value) in &block.headers {
        request = request.header(name, value);
    }
    Resp::read(
        request
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {}: {e}", block.url)),
    )
    .await
}

/// GETs a presigned URL (no credentials).
pub async fn get_url(http: &reqwest::Client, url: &str) -> Resp {
    Resp::read(http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))).await
}

/// Replaces the value of query parameter `key` in `url`.
pub fn with_query(url: &str, key: &str, value: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("parsing {url}: {e}"));
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            if k == key {
                (k.into_owned(), value.to_owned())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    assert!(pairs.iter().any(|(k, _)| k == key), "{url} has no {key} parameter");
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

pub fn query_param(url: &str, key: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("parsing {url}: {e}"));
    parsed
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {key} parameter"))
}

/// Changes the last hex digit of a hex string.
pub fn flip_last_hex(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let last = chars.last_mut().expect("a non-empty string");
    *last = if *last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

// ---------------------------------------------------------------- client

/// A signed-in account.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub email: String,
    pub tokens: TokenPair,
}

impl Client {
    pub fn user(&self) -> &User {
        &self.tokens.user
    }

    pub fn root(&self) -> NodeId {
        self.tokens.user.root_id
    }

    pub fn token(&self) -> &str {
        &self.tokens.access_token
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.tokens.access_token)
    }

    async fn run(&self, what: &str, request: reqwest::RequestBuilder) -> Resp {
        Resp::read(request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"))).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.run(&format!("GET {path}"), self.request(Method::GET, path)).await
    }

    pub async fn post<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> Resp {
        self.run(&format!("POST {path}"), self.request(Method::POST, path).json(body))
            .await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.run(&format!("POST {path}"), self.request(Method::POST, path))
            .await
    }

    pub async fn patch<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> Resp {
        self.run(&format!("PATCH {path}"), self.request(Method::PATCH, path).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.run(&format!("DELETE {path}"), self.request(Method::DELETE, path))
            .await
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        self.get(path).await.status_json()
    }

    pub async fn post_json<T: Serialize + ?Sized>(&self, path: &str, body: &T) -> (StatusCode, Value) {
        self.post(path, body).await.status_json()
    }

    // ------------------------------------------------------------ tree

    pub async fn me(&self) -> User {
        let resp = self.get("/api/v1/me").await;
        resp.expect_status(200);
        resp.parse()
    }

    pub async fn node(&self, id: NodeId) -> Node {
        let resp = self.get(&format!("/api/v1/nodes/{id}")).await;
        resp.expect_status(200);
        resp.parse()
    }

    pub async fn children(&self, id: NodeId) -> Vec<Node> {
        self.children_sorted(id, "").await
    }

    /// `query` is e.g. `"?sort=size&order=desc"`, or empty.
    pub async fn children_sorted(&self, id: NodeId, query: &str) -> Vec<Node> {
        let resp = self.get(&format!("/api/v1/nodes/{id}/children{query}")).await;
        resp.expect_status(200);
        resp.parse()
    }

    pub async fn child_names(&self, id: NodeId) -> Vec<String> {
        self.children(id).await.into_iter().map(|n| n.name).collect()
    }

    pub async fn lookup(&self, path: &str) -> Resp {
        self.run(
            &format!("GET /api/v1/lookup?path={path}"),
            self.request(Method::GET, "/api/v1/lookup").query(&[("path", path)]),
        )
        .await
    }

    pub async fn create_folder_raw(&self, parent_id: NodeId, name: &str) -> Resp {
        self.post(
            "/api/v1/folders",
            &CreateFolderRequest {
                parent_id,
                name: name.to_owned(),
            },
        )
        .await
    }

    pub async fn create_folder(&self, parent_id: NodeId, name: &str) -> Node {
        let resp = self.create_folder_raw(parent_id, name).await;
        resp.expect_status(201);
        resp.parse()
    }

    pub async fn rename(&self, id: NodeId, name: &str) -> Resp {
        self.patch(&format!("/api/v1/nodes/{id}"), &serde_json::json!({ "name": name }))
            .await
    }

    pub async fn move_to(&self, id: NodeId, parent_id: NodeId) -> Resp {
        self.patch(
            &format!("/api/v1/nodes/{id}"),
            &serde_json::json!({ "parent_id": parent_id }),
        )
        .await
    }

    pub async fn trash(&self, id: NodeId) -> Resp {
        self.delete(&format!("/api/v1/nodes/{id}")).await
    }

    pub async fn trash_list(&self) -> Vec<Node> {
        let resp = self.get("/api/v1/trash").await;
        resp.expect_status(200);
        resp.parse()
    }

    // ------------------------------------------------------------ uploads

    /// Step 1: `POST /api/v1/uploads`.
    pub async fn plan(&self, request: &CommitRequest) -> Resp {
        self.post("/api/v1/uploads", request).await
    }

    pub async fn plan_ok(&self, request: &CommitRequest) -> UploadPlan {
        let resp = self.plan(request).await;
        resp.expect_status(200);
        resp.parse()
    }

    /// The hashes `/uploads` says are missing.
    pub async fn missing(&self, request: &CommitRequest) -> Vec<BlockHash> {
        self.plan_ok(request)
            .await
            .missing
            .into_iter()
            .map(|b| b.hash)
            .collect()
    }

    /// Step 2 for every block the plan lists.
    pub async fn put_missing(&self, plan: &UploadPlan, blocks: &HashMap<BlockHash, Vec<u8>>) {
        for block in &plan.missing {
            let bytes = blocks
                .get(&block.hash)
                .unwrap_or_else(|| panic!("the plan lists block {} that the file does not have", block.hash));
            assert_eq!(
                block.size,
                bytes.len() as u64,
                "the plan gives block {} its size",
                block.hash
            );
            let resp = put_block(&self.http, block, bytes.clone()).await;
            assert!(
                resp.status == StatusCode::CREATED || resp.status == StatusCode::OK,
                "PUT of block {}: {} {}",
                block.hash,
                resp.status,
                resp.text()
            );
        }
    }

    /// Step 3: `POST /api/v1/commits`.
    pub async fn commit(&self, request: &CommitRequest) -> Resp {
        self.post("/api/v1/commits", request).await
    }

    /// All three steps; asserts success and returns the file.
    pub async fn upload_file(
        &self,
        parent_id: NodeId,
        name: &str,
        content: &[u8],
        base_revision: Option<RevisionId>,
    ) -> Node {
        let (request, blocks) = commit_request(parent_id, name, content, base_revision);
        self.upload_request(&request, &blocks).await
    }

    pub async fn upload_request(&self, request: &CommitRequest, blocks: &HashMap<BlockHash, Vec<u8>>) -> Node {
        let plan = self.plan_ok(request).await;
        self.put_missing(&plan, blocks).await;
        let resp = self.commit(request).await;
        resp.expect_status(201);
        let node: Node = resp.parse();
        assert_eq!(
            node.name,
            drive_wire::names::validate_name(&request.name).expect("a valid name")
        );
        assert_eq!(node.parent_id, Some(request.parent_id));
        assert_eq!(node.size, request.blocks.iter().map(|b| b.size).sum::<u64>());
        assert!(node.revision.is_some(), "a committed file has a revision: {node:?}");
        node
    }

    /// All three steps; returns the first response that is not a success
    /// (or the commit's answer).
    pub async fn try_upload(
        &self,
        parent_id: NodeId,
        name: &str,
        content: &[u8],
        base_revision: Option<RevisionId>,
    ) -> Resp {
        let (request, blocks) = commit_request(parent_id, name, content, base_revision);
        let resp = self.plan(&request).await;
        if resp.status != StatusCode::OK {
            return resp;
        }
        self.put_missing(&resp.parse(), &blocks).await;
        self.commit(&request).await
    }

    // ------------------------------------------------------------ downloads

    pub async fn content(&self, id: NodeId) -> Resp {
        self.get(&format!("/api/v1/nodes/{id}/content")).await
    }

    /// The current content of a file.
    pub async fn download(&self, id: NodeId) -> Vec<u8> {
        let resp = self.content(id).await;
        resp.expect_status(200);
        resp.body
    }

    pub async fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Manifest {
        let path = match revision {
            Some(rev) => format!("/api/v1/nodes/{id}/manifest?revision={rev}"),
            None => format!("/api/v1/nodes/{id}/manifest"),
        };
        let resp = self.get(&path).await;
        resp.expect_status(200);
        resp.parse()
    }

    // ------------------------------------------------------------ shares

    pub async fn share_raw(&self, node_id: NodeId, email: &str, role: ShareRole) -> Resp {
        let request = CreateShareRequest {
            node_id,
            email: email.to_owned(),
            role,
        };
        self.post("/api/v1/shares", &request).await
    }

    pub async fn share(&self, node_id: NodeId, email: &str, role: ShareRole) -> Share {
        let resp = self.share_raw(node_id, email, role).await;
        resp.expect_status(201);
        resp.parse()
    }

    pub async fn accept(&self, share: ShareId) -> Share {
        let resp = self.post_empty(&format!("/api/v1/shares/{share}/accept")).await;
        resp.expect_status(200);
        resp.parse()
    }

    pub async fn shares(&self) -> ShareList {
        let resp = self.get("/api/v1/shares").await;
        resp.expect_status(200);
        resp.parse()
    }

    // ------------------------------------------------------------ changes

    pub async fn changes(&self, since: i64, wait: u64) -> ChangesPage {
        let resp = self.get(&format!("/api/v1/changes?since={since}&wait={wait}")).await;
        resp.expect_status(200);
        resp.parse()
    }

    /// The whole feed from the start (follows `has_more`).
    pub async fn all_changes(&self) -> ChangesPage {
        let mut since = 0;
        let mut all = Vec::new();
        loop {
            let page = self.changes(since, 0).await;
            all.extend(page.changes);
            since = page.cursor;
            if !page.has_more {
                return ChangesPage {
                    changes: all,
                    cursor: since,
                    has_more: false,
                    server_id: page.server_id,
                };
            }
        }
    }
}
