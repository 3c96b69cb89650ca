//! Several stateless `drive-server` instances on one PostgreSQL database and
//! one blob store: any request may reach any instance, and a change
//! committed through one wakes the long-polls waiting on the others
//! (LISTEN/NOTIFY).

use std::time::{Duration, Instant};

use drive_e2e::{eventually, random_bytes, write, Client, Postgres, Server};

#[test]
fn two_instances_on_one_database_serve_one_user_and_wake_each_other() {
    let postgres = Postgres::start().expect("a PostgreSQL server");
    let database = postgres.database("drive").expect("a database");
    // Tokens and presigned URLs made by one instance are checked by the other.
    let shared = [
        "--database-url",
        &database,
        "--secret",
        "one-secret-for-every-instance-0123456789",
    ];
    // One bucket for both when there is an S3 store (`scripts/garage run`);
    // else one blob directory stands in for it.
    let first = match Server::start_on_s3_with(&shared).expect("the first instance") {
        Some(on_s3) => on_s3,
        None => Server::start_with(&shared).expect("the first instance"),
    };
    let second = first.another_instance(&shared).expect("the second instance");

    let mut laptop = Client::register(&first, "ada@example.com").expect("register through the first");
    let mut desktop = Client::login(&second, "ada@example.com").expect("sign in through the second");

    write(&laptop.path("notes/today.md"), b"# today\n");
    write(&laptop.path("photos/big.bin"), &random_bytes(5, 3 * 1024 * 1024));
    laptop.sync().expect("the laptop uploads through the first instance");
    desktop.sync().expect("the desktop downloads through the second");
    assert_eq!(desktop.tree(), laptop.tree());
    write(&desktop.path("notes/from desktop.md"), b"hello\n");
    desktop.sync().expect("the desktop uploads through the second");
    laptop.sync().expect("the laptop downloads through the first");
    assert_eq!(desktop.tree(), laptop.tree());

    edit_reaches_the_other_instances_client(&mut desktop, &laptop, "a.txt");
    edit_reaches_the_other_instances_client(&mut laptop, &desktop, "b.txt");
    assert_eq!(desktop.tree(), laptop.tree());
    first.check().expect("metadata and blobs agree");
}

/// `watching` syncs continuously and, rescanning only every 10 minutes,
/// learns of remote changes only from its long-poll on its own instance;
/// `editing` sends an edit through the other instance. The edit arrives within
/// seconds only if that instance wakes the long-poll (else it holds for 25 s).
fn edit_reaches_the_other_instances_client(watching: &mut Client, editing: &Client, name: &str) {
    watching.start_sync_rescanning_every(600).expect("continuous sync");
    let idle = eventually(Duration::from_secs(30), || {
        watching.status().is_ok_and(|status| status.starts_with("up to date"))
    });
    assert!(idle, "the watching client settles");
    // Into its long-poll.
    std::thread::sleep(Duration::from_secs(3));
    write(&editing.path(name), name.as_bytes());
    editing.sync().expect("the edit goes up through the other instance");
    let sent = Instant::now();
    let arrived = eventually(Duration::from_secs(15), || {
        std::fs::read(watching.path(name)).is_ok_and(|bytes| bytes == name.as_bytes())
    });
    assert!(arrived, "{name} did not reach the client of the other instance");
    eprintln!(
        "{name}: committed through one instance, on the other's client {:?} later",
        sent.elapsed()
    );
    watching.stop_sync().expect("stops cleanly");
}
