//! Probes and metrics of ConductorOne service mode: `/livez`, `/readyz` and `/metrics` on
//! `--listen`, and baton's health checks (`/health`, `/ready`, `/live`) on
//! `--health-check-port` with `--health-check`; both served with the HTTP service's connection
//! limits (`connector_service::serve_router`). Also the `health-check` subcommand.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use c1_service_mode::TaskStats;
use connector_sdk::Registry;
use serde_json::{Map, Value, json};

use crate::CliError;
use crate::command::HealthCheckArgs;

/// How long `/health` lets the connector's validation run, as baton does.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(30);

/// `/livez` (the task loop moved within its bound), `/readyz` (ConductorOne answered a poll
/// lately) and `/metrics` (tasks, durations, polls, uploads, the last sync, the connector's own
/// counters).
pub(crate) fn service_mode(stats: Arc<TaskStats>, registry: Registry) -> axum::Router {
    let (live, ready) = (stats.clone(), stats.clone());
    axum::Router::new()
        .route(
            "/livez",
            axum::routing::get(move || {
                let verdict = live.live();
                async move { plain(verdict, "live") }
            }),
        )
        .route(
            "/readyz",
            axum::routing::get(move || {
                let verdict = ready.ready();
                async move { plain(verdict, "ready") }
            }),
        )
        .route(
            "/metrics",
            axum::routing::get(move || {
                let response = metrics(&stats, &registry);
                async move { response }
            }),
        )
}

fn plain(verdict: Result<(), String>, word: &str) -> Response {
    match verdict {
        Ok(()) => (StatusCode::OK, format!("{word}\n")).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

/// The metrics now: the task loop's and the connector's counters.
fn metrics(stats: &TaskStats, registry: &Registry) -> Response {
    let mut metrics = prometheus_client::registry::Registry::default();
    stats.register(&mut metrics);
    for stat in registry.stats() {
        let gauge = prometheus_client::metrics::gauge::Gauge::<i64>::default();
        gauge.set(i64::try_from(stat.value).unwrap_or(i64::MAX));
        metrics.register(stat.name, stat.help.replace('\n', " "), gauge);
    }
    connector_service::metrics_response(&metrics)
}

/// baton's health checks: `/health` runs the connector's validation (30 s), `/ready` says
/// whether ConductorOne answers, `/live` whether the task loop moves; each answers a JSON
/// object `{status, timestamp, details}`, 200 or 503.
pub(crate) fn baton_health(stats: Arc<TaskStats>, registry: Registry) -> axum::Router {
    let (live, ready) = (stats.clone(), stats);
    axum::Router::new()
        .route(
            "/health",
            axum::routing::get(move || {
                let registry = registry.clone();
                async move {
                    let verdict =
                        match tokio::time::timeout(VALIDATION_TIMEOUT, registry.validate()).await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err(e)) => Err(connector_sdk::error_chain(&e)),
                            Err(_) => Err(format!(
                                "the validation took longer than {} s",
                                VALIDATION_TIMEOUT.as_secs()
                            )),
                        };
                    health(verdict, "healthy", "unhealthy")
                }
            }),
        )
        .route(
            "/ready",
            axum::routing::get(move || {
                let verdict = ready.ready();
                async move { health(verdict, "ready", "not_ready") }
            }),
        )
        .route(
            "/live",
            axum::routing::get(move || {
                let verdict = live.live();
                async move { health(verdict, "alive", "not_alive") }
            }),
        )
}

fn health(verdict: Result<(), String>, good: &str, bad: &str) -> Response {
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let (status, word, details) = match verdict {
        Ok(()) => (StatusCode::OK, good, None),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, bad, Some(error)),
    };
    let mut body = Map::new();
    body.insert("status".into(), Value::String(word.into()));
    body.insert("timestamp".into(), Value::String(timestamp));
    if let Some(error) = details {
        body.insert("details".into(), json!({ "error": error }));
    }
    (status, Json(Value::Object(body))).into_response()
}

/// `health-check`: GETs the endpoint of a running connector's health server; succeeds only on
/// HTTP 200.
pub(crate) async fn check(args: HealthCheckArgs) -> Result<String, CliError> {
    let at = std::net::SocketAddr::new(args.at.bind_address, args.at.port);
    let url = format!("http://{at}/{}", args.endpoint.path());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .no_proxy()
        .build()
        .map_err(|e| CliError::failed("cannot build an HTTP client").with_source(e))?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| CliError::failed(url.clone()).with_source(e))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status == reqwest::StatusCode::OK {
        Ok(format!("{}\n", body.trim()))
    } else {
        Err(CliError::failed(format!(
            "{url} answered {}: {}",
            status.as_u16(),
            body.trim()
        )))
    }
}
