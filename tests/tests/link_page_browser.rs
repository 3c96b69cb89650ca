//! A public link opened in a real browser (Debian's headless Chromium driven
//! through chromedriver): the password form, the file page, the download,
//! byte for byte. Screenshots go to target/screenshots/.

use std::time::Duration;

use drive_e2e::{
    browser::{browser, downloaded, screenshot, text_once, Driver},
    eventually, random_bytes, write, Client, Server,
};
use fantoccini::Locator;

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

    let driver = Driver::start().expect("chromedriver");
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser(&driver, downloads.path()).await.expect("a browser");

    browser.goto(&url).await.expect("the link page");
    let body = browser.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
    assert!(body.contains("This link is protected"), "{body}");
    assert!(
        !body.contains("beach photos"),
        "nothing shown before the password: {body}"
    );
    screenshot(&browser, "link-password.png").await.expect("a screenshot");

    // A wrong password: the form again, with a message.
    submit_password(&browser, "sandcastles").await;
    let body = text_once(&browser, "body", |body| body.contains("Wrong password"))
        .await
        .expect("the page");
    assert!(!body.contains("beach photos"), "{body}");
    screenshot(&browser, "link-wrong-password.png")
        .await
        .expect("a screenshot");

    submit_password(&browser, "sandcastle").await;
    let title = text_once(&browser, "h1", |title| title != "This link is protected")
        .await
        .expect("the page");
    assert_eq!(title, "beach photos.tar");
    let meta = text_once(&browser, ".meta", |_| true).await.expect("the page");
    assert!(meta.contains("2.1 MB"), "{meta}");
    screenshot(&browser, "link-file.png").await.expect("a screenshot");

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
