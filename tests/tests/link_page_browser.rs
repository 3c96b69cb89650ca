//! A public link opened in a real browser (Debian's headless Chromium driven
//! through chromedriver): the password form, the file page, the download,
//! byte for byte. Screenshots go to target/screenshots/.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use drive_e2e::{eventually, free_port, random_bytes, screenshots_dir, write, Client, Server};
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
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

async fn browser(driver: &Driver, downloads: &Path) -> fantoccini::Client {
    let options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,800"],
        "prefs": {
            "download.default_directory": downloads.to_str().expect("a UTF-8 temp path"),
            "download.prompt_for_download": false,
        },
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

async fn screenshot(browser: &fantoccini::Client, name: &str) -> PathBuf {
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = screenshots_dir().join(name);
    std::fs::write(&path, png).expect("saving the screenshot");
    path
}

async fn submit_password(browser: &fantoccini::Client, password: &str) {
    let field = browser
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("the password field");
    field.send_keys(password).await.expect("typing the password");
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("the submit button")
        .click()
        .await
        .expect("clicking submit");
}

/// The text of the element `css` once it satisfies `ready`: a click starts a
/// navigation, and until it lands the old page (or a stale element) answers.
async fn text_once(browser: &fantoccini::Client, css: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            if let Ok(text) = element.text().await {
                if ready(&text) {
                    return text;
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never got ready; last text: {last:?}");
}

/// The one finished download in `dir`: Chromium first writes a hidden temp
/// file, then `NAME.crdownload`, then renames it.
fn downloaded(dir: &Path) -> Option<PathBuf> {
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

#[tokio::test(flavor = "multi_thread")]
async fn a_password_link_opens_in_chromium_and_downloads_the_right_bytes() {
    let server = Server::start().expect("server");
    let client = Client::register(&server, "ines@example.com").expect("register");
    let bytes = random_bytes(11, 2 * 1024 * 1024 + 17);
    write(&client.path("Holiday/beach photos.tar"), &bytes);
    client.sync().expect("sync");
    let output = client
        .run(
            &["share", "Holiday/beach photos.tar", "--password-stdin", "--no-copy"],
            b"sandcastle\n",
        )
        .expect("drive share");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let url = String::from_utf8(output.stdout).expect("a UTF-8 URL").trim().to_owned();

    let driver = Driver::start();
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser(&driver, downloads.path()).await;

    browser.goto(&url).await.expect("the link page");
    let body = browser.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
    assert!(body.contains("This link is protected"), "{body}");
    assert!(
        !body.contains("beach photos"),
        "nothing shown before the password: {body}"
    );
    screenshot(&browser, "link-password.png").await;

    // A wrong password: the form again, with a message.
    submit_password(&browser, "sandcastles").await;
    let body = text_once(&browser, "body", |body| body.contains("Wrong password")).await;
    assert!(!body.contains("beach photos"), "{body}");
    screenshot(&browser, "link-wrong-password.png").await;

    submit_password(&browser, "sandcastle").await;
    let title = text_once(&browser, "h1", |title| title != "This link is protected").await;
    assert_eq!(title, "beach photos.tar");
    let meta = text_once(&browser, ".meta", |_| true).await;
    assert!(meta.contains("2.1 MB"), "{meta}");
    screenshot(&browser, "link-file.png").await;

    browser
        .find(Locator::LinkText("Download"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let dir = downloads.path().to_owned();
    let done = tokio::task::spawn_blocking(move || eventually(Duration::from_secs(30), || downloaded(&dir).is_some()))
        .await
        .unwrap();
    assert!(
        done,
        "the download did not finish: {:?}",
        std::fs::read_dir(downloads.path()).unwrap().count()
    );
    let file = downloaded(downloads.path()).unwrap();
    assert_eq!(file.file_name().unwrap(), "beach photos.tar");
    assert!(std::fs::read(&file).unwrap() == bytes, "the downloaded bytes differ");
    browser.close().await.expect("closing the browser");
}
