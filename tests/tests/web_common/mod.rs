//! What the web app's browser tests (web_upload, web_sharing) share: the
//! browser, signing in through the app's form, waiting, and /metrics.
#![allow(dead_code)]

use std::{
    future::Future,
    process::{Child, Command, Stdio},
    time::Duration,
};

use drive_e2e::{eventually, free_port, Server, PASSWORD};
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// chromedriver on a free loopback port, killed on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver, installed by scripts/setup)");
        let url = format!("http://127.0.0.1:{port}");
        let ready = eventually(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ready, "chromedriver did not start");
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session, 1200x850.
pub async fn browser(driver: &Driver) -> Browser {
    let options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,850"],
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
pub async fn wait_for<F, Fut>(timeout: Duration, mut condition: F) -> bool
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

/// The element `css` once it is there (within 20 s).
pub async fn find(browser: &Browser, css: &str) -> fantoccini::elements::Element {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(e) if tokio::time::Instant::now() > deadline => panic!("{css} never appeared: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Whether the page's text contains `text` within `timeout`.
pub async fn page_shows(browser: &Browser, text: &str, timeout: Duration) -> bool {
    wait_for(timeout, move || async move {
        match browser.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.map(|t| t.contains(text)).unwrap_or(false),
            Err(_) => false,
        }
    })
    .await
}

/// Signs in through the app's form (the harness's password), and waits for the file list.
pub async fn sign_in(browser: &Browser, url: &str, email: &str) {
    sign_in_with(browser, url, email, PASSWORD).await;
}

pub async fn sign_in_with(browser: &Browser, url: &str, email: &str, password: &str) {
    browser.goto(&format!("{url}/files")).await.expect("the web app");
    find(browser, "input[name=email]").await.send_keys(email).await.unwrap();
    find(browser, "input[name=password]")
        .await
        .send_keys(password)
        .await
        .unwrap();
    find(browser, "button[type=submit]").await.click().await.unwrap();
    find(browser, "[role=grid]").await;
}

/// The sum of the /metrics series `name` whose labels include every one of `labels` (`key="value"`).
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

/// Blocks stored by a PUT to a presigned URL (201), so far.
pub fn block_puts(server: &Server) -> f64 {
    metric_where(
        server,
        "http_requests_total",
        &["method=\"PUT\"", "route=\"/blobs/{hash}\"", "status=\"201\""],
    )
}
