//! The Coupa connector as a long-running service: syncs on a schedule, health probes, Prometheus
//! metrics, and an HTTP API to read and change access.
//!
//! ```text
//! SERVICE_TOKEN=… COUPA_DOMAIN=acme COUPA_CLIENT_ID=… COUPA_CLIENT_SECRET=… \
//!     cargo run --release --example coupa-service -- --out coupa.db --interval 1h
//! SERVICE_TOKEN=… cargo run --release --example coupa-service -- --sim
//! ```
//!
//! `/v1` needs `Authorization: Bearer $SERVICE_TOKEN`; without `SERVICE_TOKEN` the service
//! refuses to start (exit 2) unless `--insecure-no-auth` is given. It listens on 127.0.0.1:8080
//! by default. SIGTERM or Ctrl-C stops it: no new requests, the sync in flight is cancelled with
//! its progress kept (the next start resumes it), exit 0. See `docs/service.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use connector_sdk::{SqliteStore, SyncConfig};
use connector_service::{Auth, Service, ServiceConfig};
use coupa_connector::CoupaConnector;
use examples::cli::{CliError, TenantArgs, WithoutCredentials, one_line};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

/// The Coupa connector as a service.
#[derive(Debug, Parser)]
#[command(name = "coupa-service")]
struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
    /// The SQLite file syncs are stored in (an interrupted sync in it is resumed).
    #[arg(long, default_value = "coupa-service.db")]
    out: PathBuf,
    /// Time between scheduled syncs, such as 30m, 1h or 90s.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    interval: Duration,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Log lines as JSON or text (on standard error).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Serve /v1 without authentication. Only for a service nobody else can reach.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Sync into a store whose latest completed run is of another tenant (or other settings):
    /// refused without this flag, since a store holds one tenant.
    #[arg(long)]
    switch_tenant: bool,
    /// Completed runs kept in the store: older runs are pruned after each completed sync
    /// (0 keeps every run).
    #[arg(long, default_value_t = 2)]
    keep_runs: usize,
    /// Requests in flight at once during a sync.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Skip account groups (no `core.accounting.read` requested).
    #[arg(long)]
    no_account_groups: bool,
}

/// The longest interval accepted: a week.
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// `90s`, `30m`, `1h` or a number of seconds, from 1 s to a week.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 30m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    if seconds == 0 {
        return Err("the interval must be more than 0".into());
    }
    let interval = Duration::from_secs(seconds);
    if interval > MAX_INTERVAL {
        return Err(format!(
            "{text:?} is longer than a week (168h), the longest interval"
        ));
    }
    Ok(interval)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("coupa-service: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coupa-service: {}", error.message());
            error.exit_code()
        }
    }
}

/// The authentication of `/v1`: `SERVICE_TOKEN` (at least 32 characters, surrounding
/// whitespace removed), or none with `--insecure-no-auth` on a loopback address only.
fn auth(insecure: bool, listen: SocketAddr) -> Result<Auth, CliError> {
    let token = match std::env::var_os("SERVICE_TOKEN").map(|v| v.into_string()) {
        Some(Err(_)) => return Err(CliError::Usage("SERVICE_TOKEN is not valid UTF-8".into())),
        Some(Ok(token)) if !token.trim().is_empty() => Some(token),
        _ => None,
    };
    match (token, insecure) {
        (Some(_), true) => Err(CliError::Usage(
            "SERVICE_TOKEN and --insecure-no-auth contradict each other: give one".into(),
        )),
        (Some(token), false) => {
            Auth::bearer(token).map_err(|e| CliError::Usage(format!("SERVICE_TOKEN: {e}")))
        }
        (None, true) if listen.ip().is_loopback() => Ok(Auth::InsecureNone),
        (None, true) => Err(CliError::Usage(format!(
            "--insecure-no-auth is refused on {listen}: only a loopback address (127.0.0.1, \
             [::1]) may serve /v1 without a token"
        ))),
        (None, false) => Err(CliError::Usage(
            "SERVICE_TOKEN is not set: /v1 requires a bearer token of at least 32 characters \
             (generate one with `openssl rand -hex 32`; pass --insecure-no-auth to serve \
             without one on a loopback address)"
                .into(),
        )),
    }
}

async fn run(args: Args) -> Result<(), CliError> {
    let auth = auth(args.insecure_no_auth, args.listen)?;
    let target = args.tenant.resolve(WithoutCredentials::Refuse).await?;
    if let Some(sim) = &target.sim {
        tracing::warn!(uri = %sim.uri(), "serving a SIMULATED Coupa tenant, as asked");
    }
    let config = target
        .connector_config()
        .with_account_groups(!args.no_account_groups);
    let connector = CoupaConnector::new(config).map_err(|e| CliError::Usage(one_line(&e)))?;
    let registry = connector.registry();
    let store = Arc::new(SqliteStore::open(&args.out).map_err(|e| {
        CliError::Failed(format!(
            "cannot open {}: {}",
            args.out.display(),
            one_line(&e)
        ))
    })?);
    let service_config = ServiceConfig::new(auth)
        .with_interval(args.interval)
        .with_keep_runs(std::num::NonZeroUsize::new(args.keep_runs))
        .with_sync(
            SyncConfig::default()
                .with_workers(args.workers)
                .with_fingerprint_change(args.switch_tenant),
        );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    tracing::info!(listen = %args.listen, store = %args.out.display(), "coupa-service started");
    Service::new(registry, store, service_config)
        .serve(listener, examples::cli::shutdown_signal())
        .await
        .map_err(|e| CliError::Failed(format!("the server failed: {e}")))?;
    tracing::info!("coupa-service stopped");
    // The simulator (if any) lives until here.
    drop(target.sim);
    Ok(())
}
