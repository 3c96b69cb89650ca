//! Creating an account from the client: `drive register` registers and then
//! signs in, since the server answers a registration the same whether or not
//! the email already has an account (and never with tokens).

use drive_e2e::{api::Api, write, Client, Server, PASSWORD};

#[test]
fn register_signs_in_and_a_taken_email_is_told_only_by_the_sign_in() {
    let server = Server::start().expect("server");
    let ann = Client::register(&server, "ann@example.com").expect("register");
    write(&ann.path("mine.txt"), b"ann's");
    ann.sync().expect("sync");

    // Someone else registers ann's email with another password: the server
    // said nothing, the sign-in that follows fails, and the client says why.
    let other = Client::login(&server, "ann@example.com").expect("login");
    let register = [
        "register",
        "--server",
        &server.url(),
        "--email",
        "ann@example.com",
        "--password-stdin",
    ];
    let output = other.run(&register, b"another password\n").expect("drive register");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("may already exist") && stderr.contains("sign in"),
        "says that the email may have an account: {stderr}"
    );

    // Ann's account is untouched: her password, her files.
    let api = Api::login(&server, "ann@example.com").expect("ann's password still works");
    assert!(api.tree().expect("tree").contains_key("mine.txt"));
    // With her password, `drive register` simply signs in to her account.
    let output = other
        .run(&register, format!("{PASSWORD}\n").as_bytes())
        .expect("drive register");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
