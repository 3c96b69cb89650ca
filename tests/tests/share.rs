//! `drive share`: a public link for a path inside a synced folder, printed
//! alone on standard output, that opens what was shared.

use drive_e2e::{random_bytes, write, Client, Server};

fn output_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `drive share ARGS... --no-copy`: the URL it printed.
fn share(client: &Client, args: &[&str], stdin: &[u8]) -> String {
    let mut all = vec!["share"];
    all.extend_from_slice(args);
    all.push("--no-copy");
    let output = client.run(&all, stdin).expect("drive share runs");
    assert!(
        output.status.success(),
        "drive share failed: {}",
        output_text(&output.stderr)
    );
    let stdout = output_text(&output.stdout);
    let url = stdout.trim_end_matches('\n');
    assert!(!url.contains('\n'), "the URL alone on standard output: {stdout:?}");
    url.to_owned()
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

#[test]
fn share_prints_a_link_that_downloads_the_file_and_shares_lists_and_revokes_it() {
    let server = Server::start().expect("server");
    let client = Client::register(&server, "sam@example.com").expect("register");
    let bytes = random_bytes(7, 300_000);
    write(&client.path("Reports/q3 final.pdf"), &bytes);
    client.sync().expect("sync");

    let file = client.path("Reports/q3 final.pdf");
    let url = share(&client, &[file.to_str().unwrap()], b"");
    assert!(url.starts_with(&format!("{}/s/", server.url())), "{url}");
    let page = http().get(&url).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("q3 final.pdf"));
    let download = http().get(format!("{url}/download")).send().unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().unwrap().as_ref(), bytes.as_slice());

    // A folder, from a relative path, with a password and an expiry.
    let folder_url = share(
        &client,
        &["Reports", "--password-stdin", "--expires", "2h"],
        b"s3cret\n",
    );
    let locked = http().get(format!("{folder_url}/zip")).send().unwrap();
    assert_eq!(locked.status(), 401, "the password is asked for");

    let listed = client.run(&["shares"], b"").unwrap();
    assert!(listed.status.success());
    let listed = output_text(&listed.stdout);
    assert!(
        listed.contains("/Reports/q3 final.pdf") && listed.contains("/Reports "),
        "{listed}"
    );
    assert!(
        listed.contains("password") && listed.contains("active until"),
        "{listed}"
    );

    let id = listed
        .lines()
        .find(|line| line.contains("/Reports/q3 final.pdf"))
        .and_then(|line| line.split_whitespace().next())
        .expect("the file link's id")
        .to_owned();
    let revoked = client.run(&["unshare", &id], b"").unwrap();
    assert!(revoked.status.success(), "{}", output_text(&revoked.stderr));
    assert_eq!(http().get(format!("{url}/download")).send().unwrap().status(), 410);
    let listed = output_text(&client.run(&["shares"], b"").unwrap().stdout);
    assert!(listed.contains("revoked"), "{listed}");
}

#[test]
fn share_explains_what_it_cannot_do() {
    let server = Server::start().expect("server");
    let client = Client::register(&server, "sam@example.com").expect("register");
    write(&client.path("synced.txt"), b"on the server");
    client.sync().expect("sync");

    // Not inside a synced folder.
    let elsewhere = tempfile::tempdir().unwrap();
    write(&elsewhere.path().join("x.txt"), b"x");
    let output = client
        .run(
            &["share", elsewhere.path().join("x.txt").to_str().unwrap(), "--no-copy"],
            b"",
        )
        .unwrap();
    assert!(!output.status.success());
    assert!(
        output_text(&output.stderr).contains("not inside a folder synced"),
        "{}",
        output_text(&output.stderr)
    );
    assert!(output.stdout.is_empty());

    // Inside, but not uploaded yet.
    write(&client.path("new.txt"), b"not yet synced");
    let output = client
        .run(&["share", client.path("new.txt").to_str().unwrap(), "--no-copy"], b"")
        .unwrap();
    assert!(!output.status.success());
    assert!(
        output_text(&output.stderr).contains("not on the server yet"),
        "{}",
        output_text(&output.stderr)
    );

    // A path that does not exist, and nonsense options.
    let output = client
        .run(
            &["share", client.path("missing.txt").to_str().unwrap(), "--no-copy"],
            b"",
        )
        .unwrap();
    assert!(!output.status.success());
    let output = client
        .run(
            &[
                "share",
                client.path("synced.txt").to_str().unwrap(),
                "--expires",
                "soonish",
            ],
            b"",
        )
        .unwrap();
    assert!(!output.status.success());
    let output = client.run(&["unshare", "424242"], b"").unwrap();
    assert!(!output.status.success());
    assert!(output_text(&output.stderr).contains("no link 424242"));
}
