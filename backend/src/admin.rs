//! Administration commands (`drive-server --data-dir DIR user ...`,
//! `invite create`): they act directly on the metadata database and exit,
//! like `--check` and `--gc-once`, and may run while servers run on it.

use std::{io::BufRead, time::Duration};

use anyhow::Context;
use base64::Engine;
use rand::RngCore;

use crate::{
    auth::{create_user, normalize_email, password, tokens::hash_refresh_token},
    config::{AdminCommand, Config, InviteCommand, UserCommand},
    storage::{
        metadata::{now_ms, to_datetime},
        Db,
    },
};

/// Runs one command, printing its result on standard output.
pub async fn run(db: &Db, config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::User(UserCommand::Add { email, .. }) => {
            let password = read_password()?;
            let (id, email) = add_user(db, &email, password, config.default_quota).await?;
            println!("created {email} (id {id})");
        }
        AdminCommand::User(UserCommand::List) => {
            println!("email\tid\tcreated\tdisabled\tused/quota");
            for user in list_users(db).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}/{}",
                    user.email,
                    user.id,
                    to_datetime(user.created_at).to_rfc3339(),
                    user.disabled_at
                        .map_or("-".to_owned(), |at| to_datetime(at).to_rfc3339()),
                    user.used_bytes,
                    user.quota_bytes
                );
            }
        }
        AdminCommand::User(UserCommand::Disable { email }) => {
            let revoked = set_disabled(db, &email, true).await?;
            println!("disabled {} ({revoked} sessions revoked)", email.trim().to_lowercase());
        }
        AdminCommand::User(UserCommand::Enable { email }) => {
            set_disabled(db, &email, false).await?;
            println!("enabled {}", email.trim().to_lowercase());
        }
        AdminCommand::Invite(InviteCommand::Create { expires }) => {
            let (token, expires_at) = create_invite(db, expires).await?;
            eprintln!(
                "invite valid until {} (single-use; shown only now):",
                to_datetime(expires_at).to_rfc3339()
            );
            println!("{token}");
        }
    }
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        eprint!("password for the new account (visible as typed): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

/// Creates an account (whatever `--registration` says); its id and email.
pub async fn add_user(db: &Db, email: &str, password: String, quota_bytes: u64) -> anyhow::Result<(i64, String)> {
    let email = normalize_email(email)?;
    anyhow::ensure!(
        password.chars().count() >= password::MIN_PASSWORD_CHARS,
        "a password has at least {} characters",
        password::MIN_PASSWORD_CHARS
    );
    let password_hash = password::hash(password).await?;
    let mut tx = db.begin().await?;
    let id = create_user(&mut tx, &email, password_hash, quota_bytes, now_ms()).await?;
    tx.commit().await?;
    tracing::info!(user_id = id, "account created by the operator");
    Ok((id, email))
}

#[derive(Debug, sqlx::FromRow)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub used_bytes: i64,
    pub quota_bytes: i64,
}

pub async fn list_users(db: &Db) -> anyhow::Result<Vec<UserSummary>> {
    Ok(
        sqlx::query_as("SELECT id, email, created_at, disabled_at, used_bytes, quota_bytes FROM users ORDER BY id")
            .fetch_all(db.reader())
            .await?,
    )
}

/// Disables or enables an account; disabling revokes its open sessions
/// (returns how many).
pub async fn set_disabled(db: &Db, email: &str, disabled: bool) -> anyhow::Result<u64> {
    let email = email.trim().to_lowercase();
    let now = now_ms();
    let mut tx = db.begin().await?;
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    let id = id.with_context(|| format!("no account has the email {email}"))?;
    let revoked = if disabled {
        // An account disabled earlier keeps its first date.
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        0
    };
    tx.commit().await?;
    tracing::info!(
        user_id = id,
        disabled,
        revoked,
        "account status changed by the operator"
    );
    Ok(revoked)
}

/// A new single-use invite valid for `ttl`: the token (stored only as its
/// SHA-256) and its expiry in Unix milliseconds.
pub async fn create_invite(db: &Db, ttl: Duration) -> anyhow::Result<(String, i64)> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("dri_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let now = now_ms();
    let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO invites (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
        .bind(hash_refresh_token(&token))
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((token, expires_at))
}
