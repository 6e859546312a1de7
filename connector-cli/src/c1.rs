//! `serve --client-id …`: the connector as a ConductorOne self-hosted connector
//! (`c1_service_mode`), with `/livez`, `/readyz` and `/metrics` on `--listen`.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::sync::Arc;

use axum::http::StatusCode;
use c1_service_mode::{Config, ServiceMode, TaskStats};
use connector_sdk::{Registry, SyncConfig};
use secrecy::SecretString;

use crate::command::ServeArgs;
use crate::{CliError, ConnectorCli, Ctx, Purpose};

pub(crate) async fn run<C: ConnectorCli>(
    ctx: &Ctx<'_, C>,
    args: ServeArgs,
    client_id: &str,
    secret: SecretString,
) -> Result<(), CliError> {
    let mut config = Config::new(client_id, secret)
        .map_err(|e| CliError::Usage(format!("ConductorOne credentials: {e}")))?
        .with_provisioning(args.provisioning)
        .with_build(ctx.name, env!("CARGO_PKG_VERSION"))
        .with_sync(
            SyncConfig::default()
                .with_workers(args.workers)
                .with_keep_runs(NonZeroUsize::new(args.keep_runs))
                .with_fingerprint_change(args.switch_tenant),
        );
    if let Some(host) = variable("BATON_C1_API_HOST")? {
        config = config.with_api_host(host);
    }
    if let Some(path) = variable("SSL_CERT_FILE")? {
        let pem = std::fs::read(&path)
            .map_err(|e| CliError::Usage(format!("SSL_CERT_FILE {path}: {e}")))?;
        config = config.with_ca_bundle_pem(pem);
    }
    let opened = ctx.open(Purpose::Serve).await?;
    let store = crate::open_store(&args.out)?;
    // The store is the write journal too: an interrupted write is repaired before the first
    // task is fetched.
    let registry = opened.registry.clone().with_journal(store.clone());
    let mode =
        ServiceMode::new(registry, store, config).map_err(|e| CliError::Usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let probes = probes(mode.stats(), opened.registry.clone());
    let (stop_probes, probes_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, probes)
            .with_graceful_shutdown(async move {
                let _ = probes_stopped.await;
            })
            .await
    });
    tracing::info!(
        client_id,
        listen = %args.listen,
        provisioning = args.provisioning,
        "{} started in ConductorOne service mode",
        ctx.name
    );
    let stopped = mode.run(crate::shutdown_signal()).await;
    let _ = stop_probes.send(());
    let _ = server.await;
    drop(opened);
    if stopped.writes_cut > 0 {
        return Err(CliError::Failed(format!(
            "stopped with {} write(s) still in flight after the {} s write grace; the journal \
             in {} repairs them at the next start",
            stopped.writes_cut,
            c1_service_mode::WRITE_GRACE.as_secs(),
            args.out.display()
        )));
    }
    tracing::info!("{} stopped", ctx.name);
    Ok(())
}

/// An environment variable, `None` when unset or blank.
fn variable(name: &str) -> Result<Option<String>, CliError> {
    match std::env::var_os(name).map(std::ffi::OsString::into_string) {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some(value).filter(|v| !v.trim().is_empty())),
        Some(Err(_)) => Err(CliError::Usage(format!("{name} is not valid UTF-8"))),
    }
}

/// `/livez` (the process answers), `/readyz` (the last poll of ConductorOne was answered) and
/// `/metrics` (tasks by type and outcome, polls, and the connector's own counters).
fn probes(stats: Arc<TaskStats>, registry: Registry) -> axum::Router {
    let ready = stats.clone();
    axum::Router::new()
        .route("/livez", axum::routing::get(|| async { "ok\n" }))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let ready = ready.clone();
                async move {
                    if ready.connected() {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "ConductorOne has not answered the last poll\n",
                        )
                    }
                }
            }),
        )
        .route(
            "/metrics",
            axum::routing::get(move || {
                let text = metrics(&stats, &registry);
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        )
}

/// The Prometheus text format of the counters.
fn metrics(stats: &TaskStats, registry: &Registry) -> String {
    let mut out = String::new();
    out.push_str("# HELP c1_tasks_total Tasks finished, by type and outcome.\n");
    out.push_str("# TYPE c1_tasks_total counter\n");
    for count in stats.tasks() {
        let _ = writeln!(
            out,
            "c1_tasks_total{{type=\"{}\",outcome=\"{}\"}} {}",
            count.task_type, count.outcome, count.count
        );
    }
    let (polls, failures) = stats.polls();
    let _ = writeln!(
        out,
        "# HELP c1_polls_total GetTask calls.\n# TYPE c1_polls_total counter\nc1_polls_total {polls}"
    );
    let _ = writeln!(
        out,
        "# HELP c1_poll_failures_total GetTask calls that failed.\n# TYPE c1_poll_failures_total \
         counter\nc1_poll_failures_total {failures}"
    );
    for stat in registry.stats() {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}",
            name = stat.name,
            help = stat.help.replace('\n', " "),
            value = stat.value
        );
    }
    out
}
