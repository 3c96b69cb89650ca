//! The web app (web/, embedded in drive-server) in a real headless Chromium
//! against a real drive-server, with a real `drive` client beside it: sign in,
//! browse, rename, move (drag and dialog), trash and restore, an old revision
//! restored, preview and downloads, a change from the desktop client shown
//! without a reload, a folder of 10,000 items kept virtualised, axe-core on
//! every main screen, and screenshots of each in light and dark
//! (target/screenshots/web-<screen>-<theme>.png).
//!
//! Build the app first: `scripts/web-build`, then `cargo build -p drive-server`
//! (which embeds web/dist).

use std::time::{Duration, Instant};

use drive_e2e::{
    api::Api,
    browser::{axe_serious, browser, downloaded, screenshot, text_once, until_js, wait_for, wait_gone, Driver},
    eventually, write, Client, Server, PASSWORD,
};
use fantoccini::{key::Key, Locator};
use serde_json::{json, Value};
use tokio::task::block_in_place;

const WAIT: Duration = Duration::from_secs(20);

fn row(name: &str) -> String {
    format!(".row.item[data-name=\"{name}\"]")
}

async fn sign_in(browser: &fantoccini::Client, url: &str, email: &str) {
    browser.goto(url).await.expect("the web app");
    let field = wait_for(browser, "input[name=email]", WAIT)
        .await
        .expect("the sign-in form");
    field.send_keys(email).await.expect("typing the email");
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("the password field")
        .send_keys(PASSWORD)
        .await
        .expect("typing the password");
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("the submit button")
        .click()
        .await
        .expect("signing in");
    wait_for(browser, ".grid", WAIT)
        .await
        .expect("the Files view after signing in");
}

/// Clicks the row `name` (selecting it and focusing the list).
async fn select(browser: &fantoccini::Client, name: &str) {
    wait_for(browser, &row(name), WAIT)
        .await
        .expect("the row")
        .click()
        .await
        .expect("selecting the row");
}

async fn press(browser: &fantoccini::Client, key: Key) {
    browser
        .active_element()
        .await
        .expect("the focused element")
        .send_keys(&key)
        .await
        .expect("a key press");
}

async fn click(browser: &fantoccini::Client, css: &str) {
    wait_for(browser, css, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Clicks the button (or link) whose text is `text`.
async fn click_text(browser: &fantoccini::Client, text: &str) {
    let xpath = format!("//*[(self::button or self::a) and normalize-space(.)=\"{text}\"]");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(element) = browser.find(Locator::XPath(&xpath)).await {
            if element.click().await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no button {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn set_theme(browser: &fantoccini::Client, theme: &str) {
    browser
        .execute(
            "localStorage.setItem('drive.theme', arguments[0]); document.documentElement.dataset.theme = arguments[0];",
            vec![json!(theme)],
        )
        .await
        .expect("setting the theme");
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// Screenshots of the screen as it is in light and dark, and axe-core in both.
async fn capture(browser: &fantoccini::Client, screen: &str) {
    for theme in ["light", "dark"] {
        set_theme(browser, theme).await;
        screenshot(browser, &format!("web-{screen}-{theme}.png"))
            .await
            .expect("a screenshot");
        let violations = axe_serious(browser).await.expect("axe-core");
        assert!(
            violations.is_empty(),
            "axe-core on {screen} ({theme}):\n{}",
            violations.join("\n")
        );
    }
    set_theme(browser, "light").await;
}

async fn close_dialog(browser: &fantoccini::Client) {
    click(browser, "dialog[open] button[aria-label=Close]").await;
    wait_gone(browser, "dialog[open]", WAIT)
        .await
        .expect("the dialog closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_browses_edits_restores_and_follows_changes_live() {
    let server = Server::start().expect("server");
    let email = "wren@example.com";
    let client = Client::register(&server, email).expect("register");
    write(&client.path("Projects/plan.md"), b"# Plan\n\nShip the web app.\n");
    write(&client.path("Archive/old.txt"), b"old\n");
    write(&client.path("notes.txt"), b"first version\n");
    write(&client.path("photo.txt"), b"not a photo\n");
    write(&client.path("report.txt"), b"quarterly numbers\n");
    client.sync().expect("sync");
    write(&client.path("notes.txt"), b"second version, longer\n");
    client.sync().expect("sync");
    let api = block_in_place(|| Api::login(&server, email)).expect("api");

    let driver = Driver::start().expect("chromedriver");
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser(&driver, downloads.path()).await.expect("a browser");

    // Sign-in screen, then sign in.
    browser.goto(&server.url()).await.expect("the web app");
    wait_for(&browser, "input[name=email]", WAIT)
        .await
        .expect("the sign-in form");
    capture(&browser, "signin").await;
    click_text(&browser, "Create an account").await;
    wait_for(&browser, "input[name=confirm]", WAIT)
        .await
        .expect("confirm password");
    capture(&browser, "register").await;
    sign_in(&browser, &server.url(), email).await;

    // Folders first, then files by name.
    let names = until_js(
        &browser,
        "return [...document.querySelectorAll('.row.item')].map((r) => r.dataset.name);",
        WAIT,
        |v| v.as_array().is_some_and(|a| a.len() == 5),
    )
    .await
    .expect("the root's five items");
    assert_eq!(
        names,
        json!(["Archive", "Projects", "notes.txt", "photo.txt", "report.txt"])
    );
    let quota = text_once(&browser, ".quota-text", |t| t.contains("used"))
        .await
        .expect("the quota");
    assert!(quota.contains(" of "), "{quota}");
    capture(&browser, "files").await;

    // The filter box narrows the folder.
    let search = browser
        .find(Locator::Css("input[type=search]"))
        .await
        .expect("the filter box");
    search.send_keys("rep").await.expect("typing a filter");
    until_js(
        &browser,
        "return document.querySelectorAll('.row.item').length;",
        WAIT,
        |v| v.as_u64() == Some(1),
    )
    .await
    .expect("one match");
    search.clear().await.expect("clearing the filter");
    search.send_keys(" ").await.expect("typing");
    search.send_keys(&Key::Backspace).await.expect("typing");
    until_js(
        &browser,
        "return document.querySelectorAll('.row.item').length;",
        WAIT,
        |v| v.as_u64() == Some(5),
    )
    .await
    .expect("all five again");

    // Keyboard: Enter opens a folder, Backspace goes back up.
    select(&browser, "Projects").await;
    press(&browser, Key::Enter).await;
    wait_for(&browser, &row("plan.md"), WAIT)
        .await
        .expect("inside Projects");
    let crumbs = text_once(&browser, ".crumbs", |t| t.contains("Projects"))
        .await
        .expect("crumbs");
    assert!(crumbs.contains("Files"), "{crumbs}");
    // Preview of a text file in place.
    select(&browser, "plan.md").await;
    press(&browser, Key::Enter).await;
    let text = text_once(&browser, ".text-preview", |t| t.contains("Ship the web app"))
        .await
        .expect("a preview");
    assert!(text.starts_with("# Plan"), "{text}");
    capture(&browser, "preview").await;
    close_dialog(&browser).await;
    press(&browser, Key::Backspace).await;
    wait_for(&browser, &row("notes.txt"), WAIT)
        .await
        .expect("back in the root");

    // Rename with F2.
    select(&browser, "report.txt").await;
    press(&browser, Key::F2).await;
    let input = wait_for(&browser, "dialog[open] input[name=name]", WAIT)
        .await
        .expect("the name field");
    input.clear().await.expect("clearing the name");
    input.send_keys("report 2026.txt").await.expect("typing the name");
    input.send_keys(&Key::Enter).await.expect("submitting");
    wait_for(&browser, &row("report 2026.txt"), WAIT)
        .await
        .expect("the renamed row");
    assert!(
        block_in_place(|| api.id("report 2026.txt")).is_ok(),
        "renamed on the server"
    );

    // Move by dragging onto a folder.
    browser
        .execute(
            "const [from, to] = arguments;
             const source = document.querySelector(`.row.item[data-name=\"${from}\"]`);
             const target = document.querySelector(`.row.item[data-name=\"${to}\"]`);
             const data = new DataTransfer();
             source.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: data }));
             target.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: data }));
             target.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: data }));
             source.dispatchEvent(new DragEvent('dragend', { bubbles: true, dataTransfer: data }));",
            vec![json!("photo.txt"), json!("Archive")],
        )
        .await
        .expect("dragging");
    wait_gone(&browser, &row("photo.txt"), WAIT)
        .await
        .expect("moved out of the root");
    assert!(
        block_in_place(|| api.id("Archive/photo.txt")).is_ok(),
        "moved on the server"
    );

    // Move with the dialog's folder picker.
    select(&browser, "report 2026.txt").await;
    click_text(&browser, "Move to…").await;
    wait_for(&browser, "dialog[open] .picker-item", WAIT)
        .await
        .expect("the folder picker");
    capture(&browser, "move").await;
    click(&browser, "dialog[open] .picker-item").await; // Archive, the first folder
    until_js(
        &browser,
        "return document.querySelector('dialog[open] .crumbs')?.textContent ?? '';",
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains("Archive")),
    )
    .await
    .expect("inside Archive in the picker");
    click_text(&browser, "Move here").await;
    wait_gone(&browser, &row("report 2026.txt"), WAIT)
        .await
        .expect("moved away");
    assert!(
        block_in_place(|| api.id("Archive/report 2026.txt")).is_ok(),
        "moved on the server"
    );

    // Delete to the trash, then restore it from the Trash view.
    select(&browser, "Projects").await;
    press(&browser, Key::Delete).await;
    wait_gone(&browser, &row("Projects"), WAIT).await.expect("trashed");
    assert!(block_in_place(|| api.id("Projects")).is_err(), "trashed on the server");
    click(&browser, "a.nav[href=\"/trash\"]").await;
    wait_for(&browser, ".trash-item[data-name=\"Projects\"]", WAIT)
        .await
        .expect("in the trash");
    capture(&browser, "trash").await;
    click(&browser, "button[aria-label=\"Restore Projects\"]").await;
    wait_gone(&browser, ".trash-item[data-name=\"Projects\"]", WAIT)
        .await
        .expect("restored");
    assert!(
        block_in_place(|| api.id("Projects/plan.md")).is_ok(),
        "restored on the server"
    );
    click(&browser, "a.nav[href=\"/files\"]").await;
    wait_for(&browser, &row("Projects"), WAIT).await.expect("back in Files");

    // Revisions: restore the first version of notes.txt.
    select(&browser, "notes.txt").await;
    click_text(&browser, "Revisions").await;
    until_js(
        &browser,
        "return document.querySelectorAll('dialog[open] .revision').length;",
        WAIT,
        |v| v.as_u64() == Some(2),
    )
    .await
    .expect("two revisions");
    capture(&browser, "revisions").await;
    click(&browser, "dialog[open] button[aria-label^=\"Restore the version\"]").await;
    until_js(
        &browser,
        "return document.querySelectorAll('dialog[open] .revision').length;",
        WAIT,
        |v| v.as_u64() == Some(3),
    )
    .await
    .expect("a third revision, with the old content");
    close_dialog(&browser).await;
    client.sync().expect("sync");
    assert_eq!(
        std::fs::read(client.path("notes.txt")).expect("notes.txt"),
        b"first version\n",
        "the old revision restored"
    );

    // Download a file (bytes as on the server) and a folder (a zip).
    select(&browser, "notes.txt").await;
    click_text(&browser, "Download").await;
    let dir = downloads.path().to_owned();
    let done = tokio::task::spawn_blocking(move || eventually(Duration::from_secs(30), || downloaded(&dir).is_some()))
        .await
        .expect("waiting");
    assert!(done, "the file download did not finish");
    let file = downloaded(downloads.path()).expect("a download");
    assert_eq!(file.file_name().and_then(|n| n.to_str()), Some("notes.txt"));
    assert_eq!(std::fs::read(&file).expect("the download"), b"first version\n");
    std::fs::remove_file(&file).expect("removing the download");
    select(&browser, "Archive").await;
    click_text(&browser, "Download zip").await;
    let dir = downloads.path().to_owned();
    let done = tokio::task::spawn_blocking(move || eventually(Duration::from_secs(30), || downloaded(&dir).is_some()))
        .await
        .expect("waiting");
    assert!(done, "the folder download did not finish");
    let zip = std::fs::read(downloaded(downloads.path()).expect("a zip")).expect("the zip");
    assert!(zip.starts_with(b"PK"), "a zip");

    // Live: a file the desktop client adds appears without a reload.
    browser
        .execute("window.__stillHere = true;", vec![])
        .await
        .expect("a marker");
    write(&client.path("from the desktop.txt"), b"hello from the client\n");
    client.sync().expect("sync");
    let appeared = wait_for(&browser, &row("from the desktop.txt"), Duration::from_secs(30)).await;
    assert!(appeared.is_ok(), "the client's new file never appeared");
    let same_page = browser
        .execute("return window.__stillHere === true;", vec![])
        .await
        .expect("the marker");
    assert_eq!(same_page, Value::Bool(true), "the page was not reloaded");
    click(&browser, &format!("{} a", row("Archive"))).await;
    wait_for(&browser, &row("old.txt"), WAIT).await.expect("inside Archive");
    std::fs::remove_file(client.path("Archive/old.txt")).expect("removing a file");
    client.sync().expect("sync");
    wait_gone(&browser, &row("old.txt"), Duration::from_secs(30))
        .await
        .expect("the client's deletion shown");
    select(&browser, "photo.txt").await;
    press(&browser, Key::Backspace).await;
    wait_for(&browser, &row("Archive"), WAIT)
        .await
        .expect("back in the root");

    // The other main screens.
    for (path, screen) in [("/shared", "shared"), ("/links", "links"), ("/account", "account")] {
        click(&browser, &format!("a.nav[href=\"{path}\"]")).await;
        text_once(&browser, "main h1", |_| true).await.expect("a page title");
        tokio::time::sleep(Duration::from_millis(500)).await;
        capture(&browser, screen).await;
    }

    // A phone's width: the sidebar folds into a menu.
    browser.set_window_size(390, 844).await.expect("resizing");
    click(&browser, "button[aria-label=Menu]").await;
    click(&browser, "a.nav[href=\"/files\"]").await;
    wait_for(&browser, &row("Archive"), WAIT)
        .await
        .expect("Files on a phone");
    capture(&browser, "files-phone").await;

    // Sign out.
    browser.set_window_size(1100, 800).await.expect("resizing");
    click(&browser, "button[aria-label=\"Sign out\"]").await;
    wait_for(&browser, "input[name=email]", WAIT).await.expect("signed out");
    browser.refresh().await.expect("a reload");
    wait_for(&browser, "input[name=email]", WAIT)
        .await
        .expect("still signed out after a reload");
    browser.close().await.expect("closing the browser");
}

/// 10,000 empty files in `folder`, by the batch commit (1,000 a request).
fn ten_thousand_files(server: &Server, email: &str, folder: i64) {
    let http = reqwest::blocking::Client::new();
    let base = format!("{}/api/v1", server.url());
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("a token");
    let token = login["access_token"].as_str().expect("an access token").to_owned();
    for batch in 0..10 {
        let files: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"parent_id": folder, "name": format!("file-{:05}.txt", batch * 1000 + i),
                       "blocks": [], "modified": "2026-12-01T10:00:00Z"})
            })
            .collect();
        let answer: Value = http
            .post(format!("{base}/commits/batch"))
            .bearer_auth(&token)
            .json(&json!({ "files": files }))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .expect("a batch commit");
        let failed = answer["files"]
            .as_array()
            .expect("outcomes")
            .iter()
            .filter(|f| f["status"].as_u64() != Some(201))
            .count();
        assert_eq!(failed, 0, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_of_ten_thousand_items_stays_virtualised() {
    let server = Server::start().expect("server");
    let email = "vera@example.com";
    let _client = Client::register(&server, email).expect("register");
    let api = block_in_place(|| Api::login(&server, email)).expect("api");
    let big = block_in_place(|| api.create_folder(api.root_id, "Big")).expect("a folder");
    block_in_place(|| ten_thousand_files(&server, email, big));

    let driver = Driver::start().expect("chromedriver");
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser(&driver, downloads.path()).await.expect("a browser");
    sign_in(&browser, &server.url(), email).await;

    let started = Instant::now();
    browser
        .goto(&format!("{}/files/{big}", server.url()))
        .await
        .expect("the folder");
    until_js(
        &browser,
        "return document.querySelector('.grid')?.getAttribute('aria-rowcount');",
        Duration::from_secs(60),
        |v| v.as_str() == Some("10001"),
    )
    .await
    .expect("10,000 rows listed");
    let shown = started.elapsed();
    let rendered = browser
        .execute("return document.querySelectorAll('.row.item').length;", vec![])
        .await
        .expect("a count");
    let rendered = rendered.as_u64().expect("a number");
    assert!(
        rendered > 5 && rendered < 100,
        "{rendered} rows in the DOM for 10,000 items"
    );
    println!(
        "10,000 items: listed and rendered in {shown:?} (page load and fetch included), {rendered} rows in the DOM"
    );

    // Scroll to the middle and to the end: the rows there render, the DOM stays small.
    let timing = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const grid = document.querySelector('.grid');
             const times = [];
             const step = (targets) => {
               if (!targets.length) return done(times);
               const start = performance.now();
               grid.scrollTop = targets[0];
               requestAnimationFrame(() => requestAnimationFrame(() => {
                 times.push(performance.now() - start);
                 step(targets.slice(1));
               }));
             };
             step([grid.scrollHeight / 4, grid.scrollHeight / 2, grid.scrollHeight * 3 / 4, grid.scrollHeight]);",
            vec![],
        )
        .await
        .expect("scrolling");
    println!("scroll to a new place and paint, ms: {timing}");
    wait_for(&browser, &row("file-09999.txt"), WAIT)
        .await
        .expect("the last row after scrolling");
    let rendered = browser
        .execute("return document.querySelectorAll('.row.item').length;", vec![])
        .await
        .expect("a count");
    assert!(
        rendered.as_u64().is_some_and(|n| n < 100),
        "{rendered} rows after scrolling"
    );
    screenshot(&browser, "web-files-10000-light.png")
        .await
        .expect("a screenshot");

    // Keyboard: Home goes to the first row, End to the last, and they render.
    select(&browser, "file-09999.txt").await;
    press(&browser, Key::Home).await;
    wait_for(
        &browser,
        &format!("{}[aria-selected=true]", row("file-00000.txt")),
        WAIT,
    )
    .await
    .expect("the first row, selected");
    press(&browser, Key::End).await;
    wait_for(
        &browser,
        &format!("{}[aria-selected=true]", row("file-09999.txt")),
        WAIT,
    )
    .await
    .expect("the last row, selected");

    // The filter works on all 10,000.
    let search = browser
        .find(Locator::Css("input[type=search]"))
        .await
        .expect("the filter box");
    search.send_keys("file-0421").await.expect("typing a filter");
    until_js(
        &browser,
        "return document.querySelector('.grid')?.getAttribute('aria-rowcount');",
        WAIT,
        |v| v.as_str() == Some("11"),
    )
    .await
    .expect("ten matches");
    browser.close().await.expect("closing the browser");
}

/// Clicks the row `name` with Shift or Ctrl held (`modifier`), as the page sees such a click.
async fn click_with(browser: &fantoccini::Client, name: &str, modifier: &str) {
    wait_for(browser, &row(name), WAIT).await.expect("the row");
    browser
        .execute(
            "const [name, modifier] = arguments;
             const row = document.querySelector(`.row.item[data-name=\"${name}\"]`);
             const init = { bubbles: true, cancelable: true, shiftKey: modifier === 'shift', ctrlKey: modifier === 'ctrl' };
             row.dispatchEvent(new MouseEvent('mousedown', init));
             row.dispatchEvent(new MouseEvent('click', init));",
            vec![json!(name), json!(modifier)],
        )
        .await
        .expect("a click with a modifier");
}

async fn selected_names(browser: &fantoccini::Client) -> Value {
    browser
        .execute(
            "return [...document.querySelectorAll('.row.item[aria-selected=true]')].map((r) => r.dataset.name).sort();",
            vec![],
        )
        .await
        .expect("the selected rows")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_selection_is_zipped_moved_and_trashed_together() {
    let server = Server::start().expect("server");
    let email = "selma@example.com";
    let client = Client::register(&server, email).expect("register");
    for name in ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"] {
        write(&client.path(name), format!("the content of {name}\n").as_bytes());
    }
    write(&client.path("Box/inside.txt"), b"already in the box\n");
    client.sync().expect("sync");
    let api = block_in_place(|| Api::login(&server, email)).expect("api");

    let driver = Driver::start().expect("chromedriver");
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser(&driver, downloads.path()).await.expect("a browser");
    sign_in(&browser, &server.url(), email).await;

    // A click, a Shift + click (a run), a Ctrl + click (one more).
    select(&browser, "a.txt").await;
    click_with(&browser, "c.txt", "shift").await;
    click_with(&browser, "e.txt", "ctrl").await;
    text_once(&browser, ".selection-name", |t| t == "4 selected")
        .await
        .expect("four selected");
    assert_eq!(
        selected_names(&browser).await,
        json!(["a.txt", "b.txt", "c.txt", "e.txt"])
    );
    // Ctrl + click again takes one out.
    click_with(&browser, "b.txt", "ctrl").await;
    text_once(&browser, ".selection-name", |t| t == "3 selected")
        .await
        .expect("three selected");
    capture(&browser, "selection").await;

    // The selection as one zip: what was chosen, nothing else.
    click(&browser, "button[aria-label=\"Download zip\"]").await;
    let dir = downloads.path().to_owned();
    assert!(
        eventually(WAIT, || drive_e2e::browser::downloaded(&dir).is_some()),
        "no zip downloaded"
    );
    let zip = std::fs::read(drive_e2e::browser::downloaded(&dir).unwrap()).expect("the zip");
    assert!(zip.starts_with(b"PK"), "not a zip");
    let holds = |text: &str| zip.windows(text.len()).any(|w| w == text.as_bytes());
    for name in ["a.txt", "c.txt", "e.txt"] {
        assert!(holds(&format!("the content of {name}")), "{name} is not in the zip");
    }
    for name in ["b.txt", "d.txt"] {
        assert!(!holds(&format!("the content of {name}")), "{name} is in the zip");
    }

    // Moved together with the dialog.
    click(&browser, "button[aria-label=\"Move to…\"]").await;
    let title = text_once(&browser, "dialog[open] h2", |t| t.contains("Move"))
        .await
        .expect("the move dialog");
    assert!(title.contains("3 items"), "{title}");
    click(&browser, "dialog[open] .picker-item").await; // Box, the only folder
    until_js(
        &browser,
        "return document.querySelector('dialog[open] .crumbs')?.textContent ?? '';",
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains("Box")),
    )
    .await
    .expect("inside Box in the picker");
    click_text(&browser, "Move here").await;
    for name in ["a.txt", "c.txt", "e.txt"] {
        wait_gone(&browser, &row(name), WAIT).await.expect("moved away");
        assert!(
            block_in_place(|| api.id(&format!("Box/{name}"))).is_ok(),
            "{name} moved on the server"
        );
    }
    for name in ["b.txt", "d.txt"] {
        assert!(block_in_place(|| api.id(name)).is_ok(), "{name} stays");
    }

    // In Box, Ctrl + A selects everything, Delete trashes it all.
    select(&browser, "Box").await;
    press(&browser, Key::Enter).await;
    wait_for(&browser, &row("inside.txt"), WAIT).await.expect("inside Box");
    wait_for(&browser, &row("e.txt"), WAIT)
        .await
        .expect("the moved files in Box");
    select(&browser, "inside.txt").await;
    browser
        .active_element()
        .await
        .expect("the focused element")
        .send_keys(&(Key::Control + "a"))
        .await
        .expect("Ctrl + A");
    text_once(&browser, ".selection-name", |t| t == "4 selected")
        .await
        .expect("everything in Box selected");
    press(&browser, Key::Delete).await;
    wait_for(&browser, ".empty-state", WAIT).await.expect("Box is empty");
    for name in ["a.txt", "c.txt", "e.txt", "inside.txt"] {
        assert!(
            block_in_place(|| api.id(&format!("Box/{name}"))).is_err(),
            "{name} trashed on the server"
        );
    }
    click(&browser, "a.nav[href=\"/trash\"]").await;
    until_js(
        &browser,
        "return document.querySelectorAll('.trash-item').length;",
        WAIT,
        |v| v.as_u64() == Some(4),
    )
    .await
    .expect("the four items in the trash");

    browser.close().await.expect("closing the browser");
}
