//! `serve --client-id …`: the connector as a ConductorOne self-hosted connector
//! (`c1_service_mode`), with `/livez`, `/readyz` and `/metrics` on `--listen`, and baton's
//! health checks with `--health-check`.

use std::net::SocketAddr;
use std::num::NonZeroUsize;

use c1_service_mode::{Config, ServiceMode};
use connector_sdk::SyncConfig;
use secrecy::SecretString;

use crate::command::ServeArgs;
use crate::{CliError, ConnectorCli, Ctx, OpenFor};

pub(crate) async fn run<C: ConnectorCli>(
    ctx: &Ctx<'_, C>,
    args: ServeArgs,
    client_id: &str,
    secret: SecretString,
) -> Result<(), CliError> {
    let mut config = Config::new(client_id, secret)
        .map_err(|e| CliError::usage("ConductorOne credentials").with_source(e))?
        .with_provisioning(args.provisioning)
        .with_build(ctx.name, ctx.connector.version())
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
            .map_err(|e| CliError::usage(format!("SSL_CERT_FILE {path}")).with_source(e))?;
        config = config.with_ca_bundle_pem(pem);
    }
    let opened = ctx.open(OpenFor::Serve).await?;
    let store = args.out.open().await?;
    // The store is the write journal too: an interrupted write is repaired before the first
    // task is fetched.
    let registry = opened.registry.clone().with_journal(store.clone());
    let mode = ServiceMode::new(registry, store, config)
        .map_err(|e| CliError::usage("service mode cannot start").with_source(e))?;
    let listener = bind(args.listen).await?;
    let health = match args.health.enabled {
        true => {
            let at = SocketAddr::new(args.health.at.bind_address, args.health.at.port);
            Some((at, bind(at).await?))
        }
        false => None,
    };
    let (stop_probes, probes_stopped) = tokio::sync::watch::channel(false);
    let stopped = |mut watch: tokio::sync::watch::Receiver<bool>| async move {
        let _ = watch.wait_for(|stop| *stop).await;
    };
    let mut servers = Vec::new();
    let probes = crate::probes::service_mode(mode.stats(), opened.registry.clone());
    servers.push(tokio::spawn(connector_service::serve_router(
        listener,
        probes,
        stopped(probes_stopped.clone()),
    )));
    if let Some((at, listener)) = health {
        tracing::info!(listen = %at, "baton health checks on /health, /ready, /live");
        let router = crate::probes::baton_health(mode.stats(), opened.registry.clone());
        servers.push(tokio::spawn(connector_service::serve_router(
            listener,
            router,
            stopped(probes_stopped),
        )));
    }
    tracing::info!(
        client_id,
        listen = %args.listen,
        provisioning = args.provisioning,
        "{} started in ConductorOne service mode",
        ctx.name
    );
    let stopped = mode.run(crate::shutdown_signal()).await;
    let _ = stop_probes.send(true);
    for server in servers {
        let _ = server.await;
    }
    drop(opened);
    if stopped.writes_cut > 0 {
        return Err(CliError::failed(format!(
            "stopped with {} write(s) still in flight after the {} s write grace; the journal \
             in {} repairs them at the next start",
            stopped.writes_cut,
            c1_service_mode::WRITE_GRACE.as_secs(),
            args.out
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
        Some(Err(_)) => Err(CliError::usage(format!("{name} is not valid UTF-8"))),
    }
}

async fn bind(at: SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(at)
        .await
        .map_err(|e| CliError::usage(format!("cannot listen on {at}")).with_source(e))
}
