use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use hmac::{Hmac, Mac};
use metrics_exporter_prometheus::PrometheusBuilder;
use rand::RngCore;
use sha2::Sha256;
use tracing_subscriber::EnvFilter;

use drive_server::{
    admin,
    auth::{
        password,
        rate_limit::{self, LoginLimiter, RegisterLimiter},
        tokens::TokenKeys,
    },
    changes::ChangeHub,
    check,
    config::{BlobStoreKind, Config, LogFormat},
    gc, photos,
    state::{AppState, Inner},
    storage::{presign::UrlSigner, BlobStore, Db, LocalBlobStore, S3BlobStore, S3Settings},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    init_tracing(config.log_format);
    if let Some(command) = config.command.clone() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
        let db = Db::connect(&config.database_url()).await?;
        return admin::run(&db, &config, command).await;
    }
    eprintln!("drive-server {} configuration:\n{config}", env!("CARGO_PKG_VERSION"));

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
    let secret = load_secret(&config)?;
    let db = Db::connect(&config.database_url()).await?;
    tracing::info!(engine = db.engine(), "metadata database open");

    if config.check || config.gc_once {
        // The URL base is irrelevant to these.
        let (blobs, local) = open_blob_store(&config, String::new(), &secret).await?;
        if config.gc_once {
            let lease = gc::Lease::gc();
            let now = drive_server::storage::metadata::now_ms();
            anyhow::ensure!(
                lease.claim(&db, now, now + 3_600_000).await?,
                "another instance is collecting garbage now"
            );
            let report = gc::run_pass(&db, blobs.as_ref(), config.gc_grace(), &lease).await;
            lease.release(&db).await?;
            let report = report?;
            println!(
                "deleted {} unused blocks and {} unregistered objects ({} failed)",
                report.unused, report.unregistered, report.failed
            );
            return Ok(());
        }
        let problems = check::run(&db, blobs.as_ref(), local.as_deref()).await?;
        for problem in &problems {
            println!("{problem}");
        }
        if problems.is_empty() {
            println!("consistent");
            return Ok(());
        }
        std::process::exit(1);
    }

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let bound = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
    let (blobs, local_blobs) = open_blob_store(&config, public_url.clone(), &secret).await?;
    let server_id = db.server_identity().await.context("reading the server identity")?;
    tracing::info!(%server_id, "server identity");
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    password::configure(config.hash_concurrency(), config.hash_queue_timeout());
    let state = AppState::new(Inner {
        tokens: TokenKeys::new(&derive_key(&secret, "access-token"), config.access_token_ttl()),
        login_limiter: LoginLimiter::new(db.clone(), config.login_rate_per_account, config.login_rate_per_ip),
        register_limiter: RegisterLimiter::new(db.clone(), config.register_rate_per_ip),
        link_limiter: LoginLimiter::links(db.clone(), config.login_rate_per_account, config.login_rate_per_ip),
        link_cookie_key: derive_key(&secret, "link-cookie"),
        download_key: derive_key(&secret, "download-url"),
        public_url: public_url.trim_end_matches('/').to_owned(),
        changes: ChangeHub::new(db.clone()),
        server_id,
        photo_jobs: photos::PhotoJobs::default(),
        blobs,
        local_blobs,
        proofs: drive_server::uploads::ProofLog::start(db.clone()),
        metrics: Some(metrics.clone()),
        db,
        config,
    });
    spawn_housekeeping(state.clone(), metrics);
    spawn_change_follower(state.clone());
    // Also picks up the jobs a previous run left unfinished.
    if !state.config.no_photo_worker {
        photos::spawn_worker(state.clone());
    }
    if !state.config.no_gc_worker {
        gc::spawn_worker(
            state.db.clone(),
            state.blobs.clone(),
            state.config.gc_grace(),
            state.config.gc_interval(),
        );
    }

    let app = drive_server::app(state);
    // Tests and scripts read this line to learn the port when it was 0.
    println!("listening on {bound}");
    tracing::info!(%bound, "serving");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// The configured blob store, and the same as the local one when it is local
/// (its URLs are served by this server).
async fn open_blob_store(
    config: &Config,
    public_url: String,
    secret: &[u8],
) -> anyhow::Result<(Arc<dyn BlobStore>, Option<Arc<LocalBlobStore>>)> {
    match config.blob_store {
        BlobStoreKind::Local => {
            let signer = UrlSigner::new(derive_key(secret, "blob-url"));
            let local = Arc::new(LocalBlobStore::open(&config.data_dir, public_url, signer).await?);
            Ok((local.clone(), Some(local)))
        }
        BlobStoreKind::S3 => {
            let settings = S3Settings {
                endpoint: config.s3_endpoint.clone(),
                public_endpoint: config.s3_public_endpoint.clone(),
                region: config.s3_region.clone(),
                bucket: config
                    .s3_bucket
                    .clone()
                    .context("--s3-bucket is required with --blob-store s3")?,
                prefix: config.s3_prefix.clone(),
                path_style: config.s3_path_style,
                credentials: config.s3_access_key_id.clone().zip(config.s3_secret_access_key.clone()),
            };
            let store = S3BlobStore::open(settings).await?;
            Ok((Arc::new(store), None))
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
    }
}

/// The server's secret: from the configuration, else from DATA_DIR/secret,
/// made on first start and readable by the owner only.
fn load_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.secret {
        anyhow::ensure!(secret.len() >= 32, "the secret must be at least 32 characters");
        return Ok(secret.as_bytes().to_vec());
    }
    let path = config.data_dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) => hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            write_private(&path, &hex::encode(&secret))?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// One key per purpose, so that a token can never pass for a URL signature.
fn derive_key(secret: &[u8], purpose: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn spawn_housekeeping(state: AppState, metrics: metrics_exporter_prometheus::PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            rate_limit::purge(&state.db).await;
            drive_server::web::handoff::purge(&state.db).await;
            metrics.run_upkeep();
        }
    });
}

/// Long-polls here wake for changes committed through other instances;
/// a lost subscription is taken again after a pause.
fn spawn_change_follower(state: AppState) {
    tokio::spawn(async move {
        loop {
            match state.changes.follow_other_instances().await {
                Ok(()) => return,
                Err(error) => tracing::warn!(error = %error, "following other instances' changes; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
