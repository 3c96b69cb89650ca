//! Harness for end-to-end tests: starts the real `drive-server` and real
//! `drive` clients (each with its own `DRIVE_HOME` and folder) as processes,
//! on loopback ports picked by the OS.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub mod api;
pub mod browser;
pub mod exfat;
pub mod proxy;

/// The password of every account the harness makes.
pub const PASSWORD: &str = "correct horse battery";

/// Path of a workspace binary. `scripts/test` builds them first; when one is
/// missing (a test run by hand), it is built here, once. Tests outside the
/// workspace (the desktop app's) set `DRIVE_BIN_DIR` to the folder holding them.
pub fn binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("DRIVE_BIN_DIR") {
        let path = PathBuf::from(dir).join(name);
        assert!(
            path.exists(),
            "{} is missing: build the workspace's binaries first",
            path.display()
        );
        return path;
    }
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let path = exe.parent().and_then(Path::parent).expect("target dir").join(name);
    static BUILT: OnceLock<()> = OnceLock::new();
    if !path.exists() {
        BUILT.get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "--workspace", "--bins"])
                .status()
                .expect("running cargo build");
            assert!(status.success(), "building the binaries failed");
        });
    }
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `target/screenshots`: where browser tests leave pictures for people to look at.
pub fn screenshots_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let target = exe.ancestors().nth(3).expect("target dir");
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("creating target/screenshots");
    dir
}

pub struct Server {
    pub data_dir: PathBuf,
    /// Removed when the server that made it is dropped.
    _owned_dir: Option<tempfile::TempDir>,
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
    /// Environment naming the blob store (empty: the local one).
    store: Vec<(String, String)>,
}

impl Server {
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        Self::launch_new(dir.path().to_owned(), Some(dir), extra, Vec::new())
    }

    /// Another instance beside this one, on its own port, with the same data
    /// dir and blob store, and `extra` flags (say, the same database and secret).
    pub fn another_instance(&self, extra: &[&str]) -> Result<Self> {
        Self::launch_new(self.data_dir.clone(), None, extra, self.store.clone())
    }

    fn launch_new(
        data_dir: PathBuf,
        owned: Option<tempfile::TempDir>,
        extra: &[&str],
        store: Vec<(String, String)>,
    ) -> Result<Self> {
        let mut server = Server {
            data_dir,
            _owned_dir: owned,
            port: free_port(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            store,
        };
        server.launch()?;
        Ok(server)
    }

    /// A server whose blobs are in the S3 store that `DRIVE_TEST_S3_*` name
    /// (`scripts/garage run`), under a prefix of its own; `None` without them.
    pub fn start_on_s3() -> Result<Option<Self>> {
        Self::start_on_s3_with(&[])
    }

    /// [`Server::start_on_s3`] with extra flags.
    pub fn start_on_s3_with(extra: &[&str]) -> Result<Option<Self>> {
        let var = |name: &str| {
            std::env::var(format!("DRIVE_TEST_S3_{name}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let (Some(endpoint), Some(bucket), Some(key_id), Some(secret)) = (
            var("ENDPOINT"),
            var("BUCKET"),
            var("ACCESS_KEY_ID"),
            var("SECRET_ACCESS_KEY"),
        ) else {
            return Ok(None);
        };
        let region = var("REGION").unwrap_or_else(|| "garage".into());
        let prefix = format!("e2e-{}-{}", std::process::id(), free_port());
        let store = [
            ("DRIVE_BLOB_STORE", "s3"),
            ("DRIVE_S3_ENDPOINT", &endpoint),
            ("DRIVE_S3_REGION", &region),
            ("DRIVE_S3_BUCKET", &bucket),
            ("DRIVE_S3_PREFIX", &prefix),
            ("DRIVE_S3_PATH_STYLE", "true"),
            ("DRIVE_S3_ACCESS_KEY_ID", &key_id),
            ("DRIVE_S3_SECRET_ACCESS_KEY", &secret),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let dir = tempfile::tempdir()?;
        Self::launch_new(dir.path().to_owned(), Some(dir), extra, store).map(Some)
    }

    /// `drive-server` with the blob store's settings, and without the
    /// machine's CA bundle setting, which only gets in the way of a
    /// plain-HTTP loopback store.
    fn command(&self) -> Command {
        let mut command = Command::new(binary("drive-server"));
        command
            .env_remove("AWS_CA_BUNDLE")
            .envs(self.store.iter().map(|(k, v)| (k, v)));
        command
    }

    fn launch(&mut self) -> Result<()> {
        let mut child = self
            .command()
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--login-rate-per-ip", "10000", "--login-rate-per-account", "1000"])
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting drive-server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if !line.starts_with("listening on ") {
            let _ = child.kill();
            bail!("drive-server did not start: {line:?}");
        }
        self.child = Some(child);
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server hard, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// A counter from /metrics (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        let Ok(output) = Command::new("curl")
            .args(["-sf", &format!("{}/metrics", self.url())])
            .output()
        else {
            return 0.0;
        };
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Runs `drive-server --check` on the data dir (and database).
    pub fn check(&self) -> Result<()> {
        let output = self
            .command()
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra)
            .arg("--check")
            .output()?;
        if !output.status.success() {
            bail!("inconsistent store: {}", String::from_utf8_lossy(&output.stdout));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A throwaway PostgreSQL server (`scripts/postgres`), stopped on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    /// The server's URL, for a user that may create databases.
    pub url: String,
}

impl Postgres {
    pub fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let output = Command::new("bash")
            .arg(workspace_root().join("scripts/postgres"))
            .arg("start")
            .arg(dir.path().join("pg"))
            .output()
            .context("running scripts/postgres")?;
        if !output.status.success() {
            bail!("scripts/postgres start: {}", String::from_utf8_lossy(&output.stderr));
        }
        let url = String::from_utf8(output.stdout)?.trim().to_owned();
        Ok(Postgres { dir, url })
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> Result<String> {
        let status = Command::new("psql")
            .args(["-X", "-q", "-d", &self.url, "-c", &format!("CREATE DATABASE {name}")])
            .status()
            .context("running psql")?;
        if !status.success() {
            bail!("creating database {name} failed");
        }
        let (server, _) = self.url.rsplit_once('/').context("a URL with a database")?;
        Ok(format!("{server}/{name}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(workspace_root().join("scripts/postgres"))
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

/// One `drive` client: its own home (config, tokens, ledgers) and folder.
pub struct Client {
    pub home: tempfile::TempDir,
    pub dir: tempfile::TempDir,
    background: Option<Child>,
}

impl Client {
    fn command(&self) -> Command {
        let mut command = Command::new(binary("drive"));
        command
            .env("DRIVE_HOME", self.home.path())
            .env("DRIVE_CREDENTIALS", "file")
            .env("DRIVE_LOG", "drive_sync=info")
            .stdin(Stdio::null());
        command
    }

    fn new(dir: tempfile::TempDir) -> Result<Self> {
        Ok(Client {
            home: tempfile::tempdir()?,
            dir,
            background: None,
        })
    }

    /// `drive register|login` with this client's home, against `url`.
    pub fn sign_in_to(&self, url: &str, verb: &str, email: &str) -> Result<()> {
        let args = [verb, "--server", url, "--email", email, "--password-stdin"];
        let output = self.run(&args, format!("{PASSWORD}\n").as_bytes())?;
        if !output.status.success() {
            bail!("drive {verb} failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }

    fn sign_in(server: &Server, verb: &str, email: &str) -> Result<Self> {
        let client = Self::new(tempfile::tempdir()?)?;
        client.sign_in_to(&server.url(), verb, email)?;
        Ok(client)
    }

    /// `drive register`: registers (the server's answer is the same whether
    /// or not the email has an account, and carries no tokens), then signs in.
    pub fn register(server: &Server, email: &str) -> Result<Self> {
        Self::sign_in(server, "register", email)
    }

    pub fn login(server: &Server, email: &str) -> Result<Self> {
        Self::sign_in(server, "login", email)
    }

    /// A client signed in through `url` (a proxy, say) whose folder is a
    /// new directory under `parent` (a mounted file system, say).
    pub fn login_at(url: &str, email: &str, parent: &Path) -> Result<Self> {
        let client = Self::new(tempfile::tempdir_in(parent)?)?;
        client.sign_in_to(url, "login", email)?;
        Ok(client)
    }

    /// `drive ARGS...` run inside the client's folder, with `stdin` on its
    /// standard input; the output, whatever the exit status.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Result<Output> {
        let mut child = self
            .command()
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        {
            use std::io::Write;
            let mut pipe = child.stdin.take().context("stdin")?;
            pipe.write_all(stdin)?;
        }
        Ok(child.wait_with_output()?)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `drive sync DIR --once`; the output, whatever the exit status.
    pub fn sync_once_output(&self) -> Result<Output> {
        Ok(self.command().arg("sync").arg(self.dir.path()).arg("--once").output()?)
    }

    /// `drive sync DIR --once`, which must report both sides in agreement.
    pub fn sync(&self) -> Result<()> {
        let output = self.sync_once_output()?;
        if !output.status.success() {
            bail!("drive sync --once failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }

    /// What `drive status` prints; an error only if it could not run (exit
    /// 1): exits 3, 4 and 5 say what is not in sync.
    pub fn status(&self) -> Result<String> {
        let output = self.command().arg("status").arg(self.dir.path()).output()?;
        if output.status.code() == Some(1) || output.status.code().is_none() {
            bail!("drive status failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `drive ARGS...` with this client's home; its exit code, stdout and stderr.
    pub fn drive(&self, args: &[&str]) -> Result<(i32, String, String)> {
        let output = self.command().args(args).output()?;
        Ok((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    /// Starts `drive sync DIR` (continuous) in the background.
    pub fn start_sync(&mut self) -> Result<()> {
        self.start_sync_rescanning_every(2)
    }

    /// Starts `drive sync DIR --rescan SECS` in the background: with a long
    /// interval, remote changes arrive only through the feed's long-poll.
    pub fn start_sync_rescanning_every(&mut self, secs: u64) -> Result<()> {
        let child = self
            .command()
            .arg("sync")
            .arg(self.dir.path())
            .args(["--rescan", &secs.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.background = Some(child);
        Ok(())
    }

    /// Kills the background sync hard (`kill -9`).
    pub fn kill_sync(&mut self) {
        if let Some(mut child) = self.background.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the background sync with SIGTERM and waits for a clean exit.
    pub fn stop_sync(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.background.take().context("no background sync")?;
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
        Ok(child.wait()?)
    }

    /// What the folder holds: relative path -> SHA-256 of files, "dir" for folders.
    pub fn tree(&self) -> BTreeMap<String, String> {
        snapshot(self.dir.path())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.kill_sync();
    }
}

/// Relative path -> content hash (or "dir"), skipping the state dir.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == ".drive" {
                continue;
            }
            if path.is_dir() {
                found.insert(rel, "dir".to_owned());
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.insert(rel, hex(&Sha256::digest(&bytes)));
            }
        }
    }
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("creating folders");
    }
    std::fs::write(path, bytes).expect("writing a file");
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// Polls `condition` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    condition()
}
