//! Sharing and the account from the web app in a real browser (Debian's
//! headless Chromium through chromedriver) against a real drive-server that
//! serves the built app (`web/dist`; build it first with `cd web && npm ci &&
//! npm run build`):
//!
//! - the owner shares a folder with a second user from the share dialog; the
//!   second user sees it under "Shared with me", accepts, and finds it in
//!   their files;
//! - a password link made in the dialog downloads the right bytes in the
//!   browser, and shows on the Links page with its audit log;
//! - a profile photo is previewed, uploaded and shown once processed;
//! - the password is changed: the old one stops working, the new one signs in.
//!
//! Screenshots (light and dark) of the share dialog, the links, "Shared with
//! me" and the account go to target/screenshots/ as web-SCREEN-THEME.png.

use std::time::Duration;

use drive_e2e::{
    browser::{browser_sized, find, page_shows, sign_in, sign_in_with, until, Driver},
    random_bytes, screenshots_dir, write, Client, Server, PASSWORD,
};
use fantoccini::{Client as Browser, Locator};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

async fn screenshots(browser: &Browser, screen: &str) {
    for theme in ["light", "dark"] {
        browser
            .execute(
                "document.documentElement.dataset.theme = arguments[0]",
                vec![json!(theme)],
            )
            .await
            .expect("setting the theme");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let png = browser.screenshot().await.expect("a screenshot");
        std::fs::write(screenshots_dir().join(format!("web-{screen}-{theme}.png")), png).expect("saving it");
    }
    browser
        .execute("document.documentElement.dataset.theme = 'light'", vec![])
        .await
        .unwrap();
}

async fn click_text(browser: &Browser, element: &str, text: &str) {
    let xpath = format!("//{element}[contains(normalize-space(.), '{text}')]");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match browser.find(Locator::XPath(&xpath)).await {
            Ok(found) => {
                found.click().await.unwrap_or_else(|e| panic!("clicking {text}: {e}"));
                return;
            }
            Err(e) if tokio::time::Instant::now() > deadline => panic!("no {element} with {text:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn open_share_dialog(browser: &Browser, name: &str) {
    find(browser, &format!("button[aria-label='Actions for {name}']"))
        .await
        .expect("an element of the page")
        .click()
        .await
        .unwrap();
    click_text(browser, "button[@role='menuitem']", "Share").await;
    find(browser, ".share-dialog").await.expect("an element of the page");
}

async fn go(browser: &Browser, url: &str, path: &str) {
    browser.goto(&format!("{url}{path}")).await.expect("navigating");
}

async fn sign_out(browser: &Browser) {
    find(browser, "button[aria-label='Sign out']")
        .await
        .expect("an element of the page")
        .click()
        .await
        .unwrap();
    find(browser, "input[name=email]")
        .await
        .expect("an element of the page");
}

/// The SHA-256 (hex) of what `path` answers, fetched by the page (cookies included).
async fn fetch_sha256(browser: &Browser, path: &str) -> Value {
    browser
        .execute_async(
            r#"
            const [path, done] = arguments;
            fetch(path, { credentials: 'same-origin' })
              .then(async (r) => {
                if (!r.ok) return done({ status: r.status });
                const digest = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());
                done({ status: r.status, sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') });
              })
              .catch((e) => done({ error: String(e) }));
            "#,
            vec![json!(path)],
        )
        .await
        .expect("fetching in the page")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sharing_links_and_the_account_in_the_browser() {
    let server = Server::start().expect("server");
    let url = server.url();
    let owner = Client::register(&server, "olga@example.com").expect("owner");
    let _guest = Client::register(&server, "gus@example.com").expect("second user");
    write(&owner.path("Project/plan.txt"), b"the plan\n");
    let report = random_bytes(7, 300_000);
    write(&owner.path("report.bin"), &report);
    owner.sync().expect("sync");

    let driver = Driver::start().expect("chromedriver");
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser_sized(&driver, downloads.path(), 1200, 850)
        .await
        .expect("a Chromium session");
    sign_in(&browser, &url, "olga@example.com").await.expect("signing in");

    // Share the folder with gus, as an editor, then make him a viewer.
    open_share_dialog(&browser, "Project").await;
    find(&browser, "input[name=share-email]")
        .await
        .expect("an element of the page")
        .send_keys("gus@example.com")
        .await
        .unwrap();
    browser
        .execute(
            "const s = document.querySelector('select[name=share-role]'); s.value = 'editor'; s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await
        .unwrap();
    click_text(&browser, "button", "Invite").await;
    find(&browser, ".share-people li[data-email='gus@example.com']")
        .await
        .expect("an element of the page");
    let role = browser
        .execute("return document.querySelector('.share-people select').value", vec![])
        .await
        .unwrap();
    assert_eq!(role, json!("editor"));
    browser
        .execute(
            "const s = document.querySelector('.share-people select'); s.value = 'viewer'; s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await
        .unwrap();
    assert!(page_shows(&browser, "is now a viewer", WAIT).await, "the role changed");
    screenshots(&browser, "share").await;
    click_text(&browser, "button", "Done").await;

    // A password link to the report, with a download limit.
    open_share_dialog(&browser, "report.bin").await;
    find(&browser, "input[name=link-password]")
        .await
        .expect("an element of the page")
        .send_keys("sandcastle")
        .await
        .unwrap();
    find(&browser, "input[name=link-limit]")
        .await
        .expect("an element of the page")
        .send_keys("3")
        .await
        .unwrap();
    click_text(&browser, "button", "Create link").await;
    let link = find(&browser, "input.link-url")
        .await
        .expect("an element of the page")
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.contains("/s/"), "{link}");
    screenshots(&browser, "share-link").await;
    click_text(&browser, "button", "Done").await;

    // The link opens, asks the password, and downloads the right bytes.
    browser.goto(&link).await.unwrap();
    find(&browser, "input[name=password]")
        .await
        .expect("an element of the page")
        .send_keys("sandcastle")
        .await
        .unwrap();
    find(&browser, "button[type=submit]")
        .await
        .expect("an element of the page")
        .click()
        .await
        .unwrap();
    assert!(
        page_shows(&browser, "report.bin", WAIT).await,
        "the link's page after the password"
    );
    let token_path = link.split_once("/s/").map(|(_, t)| format!("/s/{t}/download")).unwrap();
    // Fetched from a page of the app: the link page's own policy allows no fetch.
    go(&browser, &url, "/").await;
    let fetched = fetch_sha256(&browser, &token_path).await;
    assert_eq!(fetched["status"], json!(200), "{fetched}");
    assert_eq!(fetched["sha256"], json!(sha256_hex(&report)), "the link's bytes");

    // The Links page lists it (password, 1 of 3 downloads) and the activity.
    go(&browser, &url, "/links").await;
    find(&browser, ".links-table tbody tr")
        .await
        .expect("an element of the page");
    assert!(page_shows(&browser, "1 of 3", WAIT).await, "the download is counted");
    assert!(
        page_shows(&browser, "Downloaded through a link", WAIT).await,
        "the audit log shows the download"
    );
    screenshots(&browser, "links").await;

    // The second user accepts the share and finds the folder in his files.
    sign_out(&browser).await;
    sign_in(&browser, &url, "gus@example.com").await.expect("signing in");
    go(&browser, &url, "/shared").await;
    find(&browser, ".shared-item[data-share='Project']")
        .await
        .expect("an element of the page");
    assert!(page_shows(&browser, "olga@example.com invited you as a viewer", WAIT).await);
    screenshots(&browser, "shared").await;
    click_text(&browser, "button", "Accept").await;
    assert!(page_shows(&browser, "In your files", WAIT).await, "accepted");
    go(&browser, &url, "/files").await;
    find(&browser, "[data-name='Project']")
        .await
        .expect("an element of the page");

    // The account: a photo previewed then saved, and a new password.
    go(&browser, &url, "/account").await;
    find(&browser, ".account-page").await.expect("an element of the page");
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("me.png");
    std::fs::write(&photo, gradient_png(160, 120)).unwrap();
    find(&browser, "input.photo-input")
        .await
        .expect("an element of the page")
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    find(&browser, "img[alt='Preview of the new photo']")
        .await
        .expect("an element of the page");
    click_text(&browser, "button", "Save photo").await;
    find(&browser, "img[alt='Your profile photo']")
        .await
        .expect("an element of the page");
    let page = &browser;
    let loaded = until(WAIT, move || async move {
        page
            .execute(
                "const i = document.querySelector(\"img[alt='Your profile photo']\"); return !!i && i.complete && i.naturalWidth === 400",
                vec![],
            )
            .await
            .map(|v| v == json!(true))
            .unwrap_or(false)
    })
    .await;
    assert!(loaded, "the processed 400x400 photo is shown");
    assert!(
        page_shows(&browser, "This browser", WAIT).await,
        "the sessions list this browser"
    );
    screenshots(&browser, "account").await;

    let new_password = "a much longer passphrase";
    find(&browser, "input[name=current-password]")
        .await
        .expect("an element of the page")
        .send_keys(PASSWORD)
        .await
        .unwrap();
    find(&browser, "input[name=new-password]")
        .await
        .expect("an element of the page")
        .send_keys(new_password)
        .await
        .unwrap();
    find(&browser, "input[name=new-password-again]")
        .await
        .expect("an element of the page")
        .send_keys(new_password)
        .await
        .unwrap();
    click_text(&browser, "button", "Change password").await;
    assert!(page_shows(&browser, "Your password was changed", WAIT).await);
    let status = |password: &'static str| {
        let url = url.clone();
        move || {
            reqwest::blocking::Client::new()
                .post(format!("{url}/api/v1/auth/login"))
                .json(&json!({"email": "gus@example.com", "password": password}))
                .send()
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(tokio::task::spawn_blocking(status(PASSWORD)).await.unwrap(), 401);
    assert_eq!(tokio::task::spawn_blocking(status(new_password)).await.unwrap(), 200);
    sign_out(&browser).await;
    sign_in_with(&browser, &url, "gus@example.com", new_password)
        .await
        .expect("signing in");

    browser.close().await.expect("closing the browser");
}

/// A `width` x `height` RGB PNG of a colour gradient (stored, uncompressed deflate).
fn gradient_png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 180]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65_535).peekable();
    while let Some(chunk) = chunks.next() {
        zlib.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    for (kind, data) in [(&b"IHDR"[..], header), (&b"IDAT"[..], zlib), (&b"IEND"[..], Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(&data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
