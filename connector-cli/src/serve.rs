//! `serve`: the connector as a long-running service (`connector_service`).

use std::net::SocketAddr;
use std::num::NonZeroUsize;

use connector_sdk::SyncConfig;
use connector_service::{Auth, Service, ServiceConfig};

use crate::command::ServeArgs;
use crate::{CliError, ConnectorCli, Ctx, OpenFor};

pub(crate) async fn run<C: ConnectorCli>(
    ctx: &Ctx<'_, C>,
    args: ServeArgs,
) -> Result<(), CliError> {
    let auth = auth(
        std::env::var_os("SERVICE_TOKEN"),
        args.insecure_no_auth,
        args.listen,
    )?;
    let opened = ctx.open(OpenFor::Serve).await?;
    let store = args.out.open().await?;
    let config = ServiceConfig::new(auth)
        .with_interval(args.interval)
        .with_keep_runs(NonZeroUsize::new(args.keep_runs))
        .with_sync(
            SyncConfig::default()
                .with_workers(args.workers)
                .with_fingerprint_change(args.switch_tenant),
        );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::usage(format!("cannot listen on {}", args.listen)).with_source(e))?;
    tracing::info!(listen = %args.listen, store = %args.out, "{} started", ctx.name);
    // The store is the write journal too: the service repairs interrupted writes at start.
    let registry = opened.registry.clone().with_journal(store.clone());
    Service::new(registry, store, config)
        .serve(listener, crate::shutdown_signal())
        .await
        .map_err(|e| CliError::failed("the server failed").with_source(e))?;
    tracing::info!("{} stopped", ctx.name);
    drop(opened);
    Ok(())
}

/// The authentication of `/v1`: `SERVICE_TOKEN` (at least 32 characters, surrounding
/// whitespace removed), or none with `--insecure-no-auth` on a loopback address only.
fn auth(
    token: Option<std::ffi::OsString>,
    insecure: bool,
    listen: SocketAddr,
) -> Result<Auth, CliError> {
    let token = match token.map(std::ffi::OsString::into_string) {
        Some(Err(_)) => return Err(CliError::usage("SERVICE_TOKEN is not valid UTF-8")),
        Some(Ok(token)) if !token.trim().is_empty() => Some(token),
        _ => None,
    };
    match (token, insecure) {
        (Some(_), true) => Err(CliError::usage(
            "SERVICE_TOKEN and --insecure-no-auth contradict each other: give one",
        )),
        (Some(token), false) => {
            Auth::bearer(token).map_err(|e| CliError::usage("SERVICE_TOKEN").with_source(e))
        }
        (None, true) if listen.ip().is_loopback() => Ok(Auth::InsecureNone),
        (None, true) => Err(CliError::usage(format!(
            "--insecure-no-auth is refused on {listen}: only a loopback address (127.0.0.1, \
             [::1]) may serve /v1 without a token"
        ))),
        (None, false) => Err(CliError::usage(
            "SERVICE_TOKEN is not set: /v1 requires a bearer token of at least 32 characters \
             (generate one with `openssl rand -hex 32`; pass --insecure-no-auth to serve \
             without one on a loopback address)",
        )),
    }
}
