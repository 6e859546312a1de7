//! The main job: sync a Coupa tenant into a SQLite file and print a summary.
//!
//! ```text
//! cargo run --release --example coupa-sync                      # simulated tenant
//! COUPA_DOMAIN=acme COUPA_CLIENT_ID=… COUPA_CLIENT_SECRET=… \
//!     cargo run --release --example coupa-sync -- --out acme.db
//! ```
//!
//! Running again into the same file after an interruption resumes the sync. With no credentials
//! (and no `--sim`), it syncs a simulated tenant and says so.
//!
//! Exit codes: 0 synced, 1 failed, 2 usage or configuration.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use connector_sdk::{RetryPolicy, SqliteStore, SyncConfig, SyncEngine, SyncEvent, SyncReport};
use coupa_connector::{ClientStats, CoupaConnector, ids};
use examples::cli::{CliError, TenantArgs, WithoutCredentials, one_line};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Sync a Coupa tenant (or a simulated one) into SQLite.
#[derive(Debug, Parser)]
#[command(name = "coupa-sync")]
struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
    /// The SQLite file to write; an interrupted sync in it is resumed.
    #[arg(long, default_value = "coupa-sync.db")]
    out: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Skip account groups (no `core.accounting.read` requested).
    #[arg(long)]
    no_account_groups: bool,
    /// Sync into a store whose latest completed run is of another tenant (or other settings):
    /// refused without this flag, since a store holds one tenant.
    #[arg(long)]
    switch_tenant: bool,
    /// Completed runs kept in the store: older runs are pruned after each completed sync
    /// (0 keeps every run).
    #[arg(long, default_value_t = 2)]
    keep_runs: usize,
    /// Start a new run even when an unfinished one could be resumed (it is marked failed).
    #[arg(long)]
    fresh: bool,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Also write the completed run as a baton `.c1z` file here (a file already there keeps its
    /// previous sync, for `baton diff`).
    #[arg(long)]
    c1z: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coupa-sync: {}", error.message());
            error.exit_code()
        }
    }
}

async fn run(args: Args) -> Result<(), CliError> {
    let failed = |e: &dyn std::error::Error| CliError::Failed(one_line(e));
    let target = args.tenant.resolve(WithoutCredentials::Demo).await?;
    if let Some(sim) = &target.sim {
        let what = if args.tenant.sim_fixture {
            "fixture tenant".to_owned()
        } else {
            format!("tenant of {} users", args.tenant.sim_users)
        };
        let why = if args.tenant.simulated() {
            "as asked"
        } else {
            "no Coupa credentials set"
        };
        eprintln!(
            "coupa-sync: {why}; syncing a SIMULATED {what} at {} (not Coupa)",
            sim.uri()
        );
    }
    let config = target
        .connector_config()
        .with_account_groups(!args.no_account_groups);
    let connector = CoupaConnector::new(config).map_err(|e| CliError::Usage(one_line(&e)))?;
    let registry = connector.registry();
    registry.validate().await.map_err(|e| failed(&e))?;
    let store: Arc<SqliteStore> = Arc::new(SqliteStore::open(&args.out).map_err(|e| {
        CliError::Failed(format!(
            "cannot open {}: {}",
            args.out.display(),
            one_line(&e)
        ))
    })?);
    let engine = SyncEngine::new(
        registry,
        store.clone(),
        SyncConfig::default()
            .with_workers(args.workers)
            .with_resume(!args.fresh)
            .with_keep_runs(std::num::NonZeroUsize::new(args.keep_runs))
            .with_fingerprint_change(args.switch_tenant)
            .with_retry(RetryPolicy::default().with_max_attempts(3)),
    );
    let store_for_c1z = store;
    let progress = tokio::spawn(show_progress(engine.subscribe()));
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let started = Instant::now();
    let result = engine.run(&cancel).await;
    drop(engine);
    let _ = progress.await;
    let report = match result {
        Ok(report) => report,
        Err(connector_sdk::Error::Cancelled) => {
            return Err(CliError::Failed(format!(
                "interrupted; run again with --out {} to resume",
                args.out.display()
            )));
        }
        Err(e @ connector_sdk::Error::OtherFingerprint { .. }) => {
            return Err(CliError::Failed(format!(
                "{}; pass --switch-tenant to sync into {} anyway",
                one_line(&e),
                args.out.display()
            )));
        }
        Err(e) => return Err(failed(&e)),
    };
    let summary = Summary::new(&report, connector.http_stats(), started.elapsed());
    summary.print(&args.out);
    if let Some(path) = &args.c1z {
        let path = path.clone();
        let run = report.run;
        let switch_tenant = args.switch_tenant;
        let written = tokio::task::spawn_blocking(move || {
            c1z::Writer::new()
                .with_fingerprint_change(switch_tenant)
                .write(store_for_c1z.as_ref(), run, &path)
        })
        .await
        .map_err(|e| CliError::Failed(format!("the .c1z writer stopped: {e}")))?
        .map_err(|e| match e {
            c1z::Error::OtherFingerprint { .. } => CliError::Failed(format!(
                "{}; pass --switch-tenant to write into it anyway",
                one_line(&e)
            )),
            e => CliError::Failed(one_line(&e)),
        })?;
        println!(
            "{:<22} {} (sync {}, {} bytes)",
            "baton .c1z",
            args.c1z
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display(),
            written.sync_id,
            written.bytes
        );
    }
    if let Some(path) = &args.summary_json {
        std::fs::write(path, summary.json())
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

async fn show_progress(mut events: futures::stream::BoxStream<'static, SyncEvent>) {
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last_line = Instant::now();
    while let Some(event) = futures::StreamExt::next(&mut events).await {
        match event {
            SyncEvent::PageStored {
                stage, progress, ..
            } => {
                let line = format!(
                    "{stage}: {} pages, {} resources, {} grants, {} retries, {} rate-limit waits",
                    progress.pages,
                    progress.resources,
                    progress.grants,
                    progress.retries,
                    progress.rate_limit_waits
                );
                match &bar {
                    Some(bar) => bar.set_message(line),
                    None if last_line.elapsed() >= Duration::from_secs(2) => {
                        eprintln!("coupa-sync: {line}");
                        last_line = Instant::now();
                    }
                    None => {}
                }
            }
            SyncEvent::Warning { message } => match &bar {
                Some(bar) => bar.println(format!("warning: {message}")),
                None => eprintln!("coupa-sync: warning: {message}"),
            },
            SyncEvent::Started { resumed: true, run } => {
                eprintln!("coupa-sync: resuming run {run}");
            }
            _ => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// The summary printed as a table and written as JSON.
struct Summary {
    resources: BTreeMap<String, u64>,
    grants: BTreeMap<String, u64>,
    http: ClientStats,
    duration: Duration,
    warnings: Vec<String>,
    run: connector_sdk::RunId,
    resumed: bool,
}

const TYPES: [&str; 6] = [
    ids::USER,
    ids::GROUP,
    ids::ROLE,
    ids::LICENSE,
    ids::ACCOUNT_GROUP,
    ids::CONTENT_GROUP,
];

impl Summary {
    fn new(report: &SyncReport, http: ClientStats, duration: Duration) -> Self {
        let pick = |map: &BTreeMap<connector_sdk::ResourceTypeId, u64>, types: &[&str]| {
            types
                .iter()
                .map(|t| ((*t).to_owned(), map.get(&(*t).into()).copied().unwrap_or(0)))
                .collect::<BTreeMap<_, _>>()
        };
        Self {
            resources: pick(&report.counts.resources, &TYPES),
            grants: pick(&report.counts.grants, &TYPES[1..]),
            http,
            duration,
            warnings: report.warnings.clone(),
            run: report.run,
            resumed: report.resumed,
        }
    }

    fn print(&self, out: &std::path::Path) {
        println!(
            "Synced into {} (run {}{})",
            out.display(),
            self.run,
            if self.resumed { ", resumed" } else { "" }
        );
        println!();
        println!("{:<15} {:>10} {:>10}", "type", "resources", "grants");
        for t in TYPES {
            let grants = self.grants.get(t).map_or("-".to_owned(), u64::to_string);
            println!("{t:<15} {:>10} {grants:>10}", self.resources[t]);
        }
        println!();
        println!("{:<22} {}", "HTTP requests", self.http.requests);
        println!("{:<22} {}", "retries", self.http.retries);
        println!("{:<22} {}", "rate-limit waits", self.http.rate_limit_waits);
        println!("{:<22} {:.2} s", "duration", self.duration.as_secs_f64());
        for warning in &self.warnings {
            println!("warning: {warning}");
        }
    }

    fn json(&self) -> String {
        let value = json!({
            "resources": self.resources,
            "grants": self.grants,
            "http_requests": self.http.requests,
            "retries": self.http.retries,
            "rate_limit_waits": self.http.rate_limit_waits,
            "duration_ms": u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            "warnings": self.warnings,
            "run": self.run,
            "resumed": self.resumed,
        });
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }
}
