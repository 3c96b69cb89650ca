//! A real browser for the tests: Debian's headless Chromium driven through
//! chromedriver (fantoccini), and the helpers the browser tests share (waits,
//! screenshots, downloads, axe-core).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use fantoccini::{elements::Element, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;

use crate::{eventually, free_port, screenshots_dir};

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
