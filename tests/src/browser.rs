//! A real browser for the tests: Debian's headless Chromium driven through
//! chromedriver (fantoccini), and the helpers the browser tests share (waits,
//! signing in to the web app, screenshots, downloads, axe-core, /metrics, and
//! a gate that counts and holds back the blocks a page uploads).

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use anyhow::{bail, Context, Result};
use fantoccini::{elements::Element, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::{eventually, free_port, screenshots_dir, Server, PASSWORD};

/// chromedriver on a free loopback port, killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub fn start() -> Result<Driver> {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("chromedriver (Debian's chromium-driver, installed by scripts/setup)")?;
        let url = format!("http://127.0.0.1:{port}");
        let mut driver = Driver { child, url };
        let ready = eventually(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if !ready {
            let _ = driver.child.kill();
            bail!("chromedriver did not start");
        }
        Ok(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session, downloads going to `downloads`, the window
/// `width` x `height`.
pub async fn browser_sized(driver: &Driver, downloads: &Path, width: u32, height: u32) -> Result<fantoccini::Client> {
    let dir = downloads.to_str().context("a UTF-8 download path")?;
    let options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            format!("--window-size={width},{height}"),
        ],
        "prefs": {
            "download.default_directory": dir,
            "download.prompt_for_download": false,
        },
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .context("a Chromium session")
}

/// A headless Chromium session in a 1100 x 800 window.
pub async fn browser(driver: &Driver, downloads: &Path) -> Result<fantoccini::Client> {
    browser_sized(driver, downloads, 1100, 800).await
}

/// Saves a screenshot of the window as `target/screenshots/NAME`.
pub async fn screenshot(browser: &fantoccini::Client, name: &str) -> Result<PathBuf> {
    let png = browser.screenshot().await.context("a screenshot")?;
    if !png.starts_with(b"\x89PNG") {
        bail!("the screenshot is not a PNG");
    }
    let path = screenshots_dir().join(name);
    std::fs::write(&path, png).context("saving the screenshot")?;
    Ok(path)
}

/// The text of the element `css` once it satisfies `ready`: a click starts a
/// navigation, and until it lands the old page (or a stale element) answers.
pub async fn text_once(browser: &fantoccini::Client, css: &str, ready: impl Fn(&str) -> bool) -> Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            if let Ok(text) = element.text().await {
                if ready(&text) {
                    return Ok(text);
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{css} never got ready; last text: {last:?}")
}

/// The element `css`, once there is one (within `timeout`).
pub async fn wait_for(browser: &fantoccini::Client, css: &str, timeout: Duration) -> Result<Element> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            return Ok(element);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("no {css} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no element matches `css` (within `timeout`).
pub async fn wait_gone(browser: &fantoccini::Client, css: &str, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match browser.find_all(Locator::Css(css)).await {
            Ok(found) if found.is_empty() => return Ok(()),
            _ => {}
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{css} still there after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the script `js` (a function body returning a value) until its result
/// satisfies `ready`; the last result otherwise, as an error.
pub async fn until_js(
    browser: &fantoccini::Client,
    js: &str,
    timeout: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = Value::Null;
    while tokio::time::Instant::now() < deadline {
        if let Ok(value) = browser.execute(js, vec![]).await {
            if ready(&value) {
                return Ok(value);
            }
            last = value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the page never satisfied the wait; last: {last}")
}

/// The one finished download in `dir`: Chromium first writes a hidden temp
/// file, then `NAME.crdownload`, then renames it.
pub fn downloaded(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    let in_progress = |path: &PathBuf| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.starts_with('.') || name.ends_with(".crdownload")
    };
    match entries.as_slice() {
        [one] if !in_progress(one) => Some(one.clone()),
        _ => None,
    }
}

/// axe-core (web/node_modules/axe-core, a devDependency of the web app) run on
/// the page as it is: its violations of impact `serious` or `critical`, each
/// as "rule: help (selectors)".
pub async fn axe_serious(browser: &fantoccini::Client) -> Result<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("tests/ is inside the workspace")?;
    let path = root.join("web/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path).with_context(|| format!("{} (cd web && npm ci)", path.display()))?;
    browser
        .execute(&format!("{source}\nreturn typeof axe;"), vec![])
        .await
        .context("injecting axe-core")?;
    let result = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then((r) => done(r.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
                }))))
                .catch((e) => done({ error: String(e) }));",
            vec![],
        )
        .await
        .context("running axe-core")?;
    if let Some(error) = result.get("error") {
        bail!("axe-core failed: {error}");
    }
    let violations = result.as_array().context("axe-core's violations")?;
    Ok(violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| format!("{}: {} {}", v["id"], v["help"], v["nodes"]))
        .collect())
}

/// The element `css` once it is there (within 20 s).
pub async fn find(browser: &fantoccini::Client, css: &str) -> Result<Element> {
    wait_for(browser, css, Duration::from_secs(20)).await
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; whether it held.
pub async fn until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    condition().await
}

/// Whether the page's text contains `text` within `timeout`.
pub async fn page_shows(browser: &fantoccini::Client, text: &str, timeout: Duration) -> bool {
    until(timeout, move || async move {
        match browser.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.map(|t| t.contains(text)).unwrap_or(false),
            Err(_) => false,
        }
    })
    .await
}

/// Signs in to the web app at `url` through its form (the harness's
/// password), and waits for the file list.
pub async fn sign_in(browser: &fantoccini::Client, url: &str, email: &str) -> Result<()> {
    sign_in_with(browser, url, email, PASSWORD).await
}

/// [`sign_in`] with another password.
pub async fn sign_in_with(browser: &fantoccini::Client, url: &str, email: &str, password: &str) -> Result<()> {
    browser
        .goto(&format!("{url}/files"))
        .await
        .context("opening the web app")?;
    find(browser, "input[name=email]").await?.send_keys(email).await?;
    find(browser, "input[name=password]").await?.send_keys(password).await?;
    find(browser, "button[type=submit]").await?.click().await?;
    find(browser, "[role=grid]")
        .await
        .context("the file list after signing in")?;
    Ok(())
}

/// The sum of the /metrics series `name` whose labels include every one of
/// `labels` (`key="value"`); 0 when there is none.
pub fn metric_where(server: &Server, name: &str, labels: &[&str]) -> f64 {
    let Ok(output) = Command::new("curl")
        .args(["-sf", &format!("{}/metrics", server.url())])
        .output()
    else {
        return 0.0;
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A loopback HTTP proxy in front of where blocks are PUT: the server itself
/// on the local store (pages loaded through the gate, whose address is the
/// server's `--public-url`), or the S3 store (the gate's address is the
/// server's `--s3-endpoint`). It forwards every request as it is, counts the
/// block PUTs the store accepted, and can hold block PUTs back: a test stops
/// an upload half way with it, with nothing in the app. A held PUT goes on
/// when the gate opens, or is dropped unsent when the browser gives up on it
/// (a reload closes its connection). Each request gets a connection of its
/// own to the upstream (`Connection: close` both ways).
pub struct BlockGate {
    pub port: u16,
    state: Arc<GateState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Default)]
struct GateState {
    /// `host:port` requests go to; none yet: 502.
    upstream: Mutex<Option<String>>,
    /// Block PUTs still let through before the gate holds them; `None`: open.
    allowance: Mutex<Option<u64>>,
    /// Block PUTs the upstream answered 2xx.
    puts: AtomicU64,
    /// Block PUTs waiting at the gate now.
    held: AtomicU64,
}

impl GateState {
    fn take_pass(&self) -> bool {
        let mut allowance = self.allowance.lock().unwrap_or_else(|e| e.into_inner());
        match allowance.as_mut() {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }

    /// Whether the PUT waiting on `client` may go (else its browser left).
    async fn pass(&self, client: &mut TcpStream) -> bool {
        if self.take_pass() {
            return true;
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let mut probe = [0u8; 1];
        let go = loop {
            tokio::select! {
                // The request was read whole: anything now is the browser closing.
                _ = client.read(&mut probe) => break false,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if self.take_pass() {
                        break true;
                    }
                }
            }
        };
        self.held.fetch_sub(1, Ordering::SeqCst);
        go
    }
}

impl BlockGate {
    /// A gate on a free loopback port, open, with no upstream yet.
    pub fn start() -> Result<BlockGate> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(GateState::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        // A runtime of its own: the gate serves whatever the test's threads do.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    return;
                };
                let accept = async {
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(serve(stream, shared.clone()));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(BlockGate {
            port,
            state,
            stop: Some(stop),
        })
    }

    /// Where requests go from now on (`http://host:port`).
    pub fn forward_to(&self, upstream: &str) {
        let address = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        *self.state.upstream.lock().unwrap_or_else(|e| e.into_inner()) = Some(address);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Lets `n` more block PUTs through, then holds the next ones.
    pub fn close_after(&self, n: u64) {
        *self.state.allowance.lock().unwrap_or_else(|e| e.into_inner()) = Some(n);
    }

    /// Lets every block PUT through, the held ones too.
    pub fn open(&self) {
        *self.state.allowance.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Block PUTs the store accepted (2xx) so far.
    pub fn puts(&self) -> u64 {
        self.state.puts.load(Ordering::SeqCst)
    }

    /// Block PUTs waiting at the gate now.
    pub fn held(&self) -> u64 {
        self.state.held.load(Ordering::SeqCst)
    }
}

impl Drop for BlockGate {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Whether a request target is a block's: `/blobs/HASH?...` on the local
/// store, `/BUCKET/PREFIX/blocks/HASH?...` on S3 (path style).
fn is_block(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or_default();
    path.starts_with("/blobs/") || path.contains("/blocks/")
}

/// Reads into `buf` until it holds a whole head (up to the blank line);
/// the head's length, or `None` when the stream ended first.
async fn read_head(stream: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Result<Option<usize>> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(at + 4));
        }
        if buf.len() > 64 * 1024 {
            bail!("a head of more than 64 KiB");
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `head` with `Connection: close` instead of whatever it said.
fn closing(head: &str) -> String {
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn header_value<'a>(head: &'a str, wanted: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case(wanted).then_some(value.trim())
    })
}

/// One request from `client`, forwarded (or held, or dropped), its answer sent back.
async fn serve(mut client: TcpStream, gate: Arc<GateState>) -> Result<()> {
    let mut buf = Vec::new();
    let Some(head_len) = read_head(&mut client, &mut buf).await? else {
        return Ok(());
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut body = buf.split_off(head_len);
    let mut request_line = head.split_whitespace();
    let (method, target) = (
        request_line.next().unwrap_or_default(),
        request_line.next().unwrap_or_default(),
    );
    let block_put = method == "PUT" && is_block(target);
    if block_put {
        // The whole body first: then a held request's connection says only whether the browser left.
        if let Some(length) = header_value(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut chunk = vec![0u8; 64 * 1024];
            while body.len() < length {
                let n = client.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        if !gate.pass(&mut client).await {
            return Ok(());
        }
    }
    let upstream = gate.upstream.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(upstream) = upstream else {
        client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return Ok(());
    };
    let mut server = TcpStream::connect(&upstream).await?;
    server.write_all(closing(&head).as_bytes()).await?;
    server.write_all(&body).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // What is left of the request's body, as it comes.
    let rest = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut answer = Vec::new();
    let Some(answer_len) = read_head(&mut server_read, &mut answer).await? else {
        rest.abort();
        return Ok(());
    };
    let answer_head = String::from_utf8_lossy(&answer[..answer_len]).into_owned();
    let status: u16 = answer_head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    client_write.write_all(closing(&answer_head).as_bytes()).await?;
    client_write.write_all(&answer[answer_len..]).await?;
    let copied = tokio::io::copy(&mut server_read, &mut client_write).await;
    let _ = client_write.shutdown().await;
    rest.abort();
    copied?;
    if block_put && (200..300).contains(&status) {
        gate.puts.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}
