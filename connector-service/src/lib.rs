//! Any connector on the SDK as a long-running service: it syncs on a schedule, answers health
//! probes, exposes Prometheus metrics, and reads and changes access over an HTTP API.
//!
//! * **Schedule:** a sync at start and then every [`ServiceConfig::interval`] (with jitter);
//!   never two at once; an interrupted sync is resumed by the engine.
//! * **Health:** `GET /livez` (200 while serving), `GET /readyz` (200 once the connector's
//!   `validate` succeeded, 503 with the reason otherwise; re-checked periodically).
//! * **Metrics:** `GET /metrics`, OpenMetrics text: `connector_sync_runs_total{outcome}`,
//!   `connector_sync_duration_seconds`, `connector_sync_last_success_timestamp_seconds`,
//!   `connector_resources{resource_type}`, `connector_grants{resource_type}`, and what the
//!   connector reports about itself ([`connector_sdk::Connector::stats`]).
//! * **API under `/v1`**, JSON in and out, `Authorization: Bearer <token>` required: syncs,
//!   resources, grants, grant and revoke, account creation, actions. Errors are
//!   `{"error": {"kind", "message"}}`. See `docs/service.md`.
//!
//! ```no_run
//! # async fn run(registry: connector_sdk::Registry) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use connector_service::{Auth, Service, ServiceConfig};
//!
//! let store = Arc::new(connector_sdk::SqliteStore::open("sync.db").expect("store"));
//! let token = std::env::var("SERVICE_TOKEN").unwrap_or_default();
//! let auth = Auth::bearer(token).map_err(std::io::Error::other)?;
//! let config = ServiceConfig::new(auth);
//! let service = Service::new(registry, store, config);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! service.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod api;
mod error;
mod metrics;
mod serve;
mod syncs;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use connector_sdk::backend::WorkQueue;
use connector_sdk::{Registry, SyncConfig};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

pub use error::{ApiError, ApiErrorKind};

/// Who may call `/v1`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// Requests must carry `Authorization: Bearer <token>`; compared in constant time.
    Bearer(SecretString),
    /// No authentication. Only for a service no one else can reach.
    InsecureNone,
}

/// The fewest characters a service token may have.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Why a service token was refused. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is shorter than [`MIN_TOKEN_CHARS`] once surrounding whitespace is removed.
    #[error(
        "the service token has {chars} characters; at least {MIN_TOKEN_CHARS} are required \
         (generate one with `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Its length in characters, surrounding whitespace removed.
        chars: usize,
    },
}

impl Auth {
    /// Bearer authentication with `token`. Surrounding whitespace (such as the newline a file
    /// or a Kubernetes Secret ends with) is removed, here and only here, so the token checked is
    /// the token compared; it must then have at least [`MIN_TOKEN_CHARS`] characters.
    pub fn bearer(token: impl Into<String>) -> Result<Self, TokenError> {
        let token = SecretString::from(token.into());
        let trimmed = token.expose_secret().trim();
        let chars = trimmed.chars().count();
        if chars < MIN_TOKEN_CHARS {
            return Err(TokenError::TooShort { chars });
        }
        Ok(Self::Bearer(SecretString::from(trimmed.to_owned())))
    }
}

/// How the service runs.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// Who may call `/v1`.
    pub auth: Auth,
    /// Time between the end of one scheduled sync and the start of the next. Default 1 h.
    pub interval: Duration,
    /// Up to this fraction of `interval` is added at random to each wait. Default 0.1.
    pub jitter: f64,
    /// How often readiness is re-checked with the connector's `validate`. Default 60 s.
    pub readiness_interval: Duration,
    /// The longest a request may take before it is answered 408. Default 60 s.
    pub request_timeout: Duration,
    /// The largest request body accepted. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Rows per page of `/v1/resources` and `/v1/grants`. Default 100.
    pub page_size: usize,
    /// How syncs run.
    pub sync: SyncConfig,
    /// Whether the service syncs on its own schedule (on by default); off, syncs start only
    /// through `POST /v1/syncs`.
    pub scheduled: bool,
    /// A connection whose next request head has not fully arrived within this is closed: it
    /// bounds slow clients and idle keep-alive connections alike. Default 10 s.
    pub header_read_timeout: Duration,
    /// Connections open at once; more clients wait in the listen backlog. Default 256.
    pub max_connections: usize,
    /// Completed runs kept in the store after each completed sync (older runs are pruned);
    /// `None` keeps every run. Default 2: the latest and the one before it.
    pub keep_runs: Option<std::num::NonZeroUsize>,
    /// From the shutdown signal to `serve` returning, at most: open requests and writes in
    /// flight get until then to finish (connections two thirds of it), the sync in flight is
    /// cancelled with its progress kept. Default 9 s.
    pub shutdown_deadline: Duration,
    /// How long a shutdown lets writes in flight finish, from the signal on, even past
    /// `shutdown_deadline`: a write is never cut between its requests while it can finish. One
    /// still running then is cut off, left to the write journal (repaired at the next start),
    /// and `serve` returns an error. Default 60 s.
    pub write_grace: Duration,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("auth", &self.auth)
            .field("interval", &self.interval)
            .field("scheduled", &self.scheduled)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    /// The defaults, with `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            interval: Duration::from_secs(3600),
            jitter: 0.1,
            readiness_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 64 * 1024,
            page_size: 100,
            sync: SyncConfig::default(),
            scheduled: true,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
            keep_runs: std::num::NonZeroUsize::new(2),
            shutdown_deadline: Duration::from_secs(9),
            write_grace: Duration::from_secs(60),
        }
    }

    /// Sets the header-read (and idle keep-alive) timeout.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets how many connections may be open at once.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets how many completed runs are kept (`None`: all).
    pub fn with_keep_runs(mut self, keep: Option<std::num::NonZeroUsize>) -> Self {
        self.keep_runs = keep;
        self
    }

    /// Sets the shutdown deadline.
    pub fn with_shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }

    /// Sets how long a shutdown waits for writes in flight.
    pub fn with_write_grace(mut self, grace: Duration) -> Self {
        self.write_grace = grace;
        self
    }

    /// Sets the interval between scheduled syncs.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Turns the schedule on or off.
    pub fn with_schedule(mut self, on: bool) -> Self {
        self.scheduled = on;
        self
    }

    /// Sets how syncs run.
    pub fn with_sync(mut self, sync: SyncConfig) -> Self {
        self.sync = sync;
        self
    }

    /// Sets how often readiness is re-checked.
    pub fn with_readiness_interval(mut self, interval: Duration) -> Self {
        self.readiness_interval = interval;
        self
    }
}

/// What the handlers and background tasks share.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) store: Arc<dyn WorkQueue>,
    pub(crate) config: ServiceConfig,
    pub(crate) syncs: Mutex<syncs::Syncs>,
    /// `Ok` once validated, else why not.
    pub(crate) ready: Mutex<Result<Vec<String>, String>>,
    pub(crate) metrics: metrics::Metrics,
    /// Cancelled when the service shuts down.
    pub(crate) shutdown: CancellationToken,
    /// Writes (grants, revokes, account creations, actions) in flight: each runs in a task of
    /// its own, so a client that disconnects never cuts one, and shutdown waits for them.
    pub(crate) writes: tokio_util::task::TaskTracker,
    /// Background tasks that ended while the service was not shutting down, with why.
    pub(crate) dead: Mutex<Vec<String>>,
    /// Why the last sync failed on the store (a full disk), until a sync completes.
    pub(crate) store_failure: Mutex<Option<String>>,
}

/// A connector served over HTTP. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("connector", &self.shared.registry.metadata().id)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service for `registry`'s connector, storing syncs in `store` (an `Arc<SqliteStore>`,
    /// usually).
    pub fn new(registry: Registry, store: Arc<dyn WorkQueue>, config: ServiceConfig) -> Self {
        let metrics = metrics::Metrics::new(registry.stats());
        Self {
            shared: Arc::new(Shared {
                registry,
                store,
                config,
                syncs: Mutex::new(syncs::Syncs::default()),
                ready: Mutex::new(Err("the connector has not been validated yet".into())),
                metrics,
                shutdown: CancellationToken::new(),
                writes: tokio_util::task::TaskTracker::new(),
                dead: Mutex::new(Vec::new()),
                store_failure: Mutex::new(None),
            }),
        }
    }

    /// The HTTP routes: `/livez`, `/readyz`, `/metrics` and `/v1`.
    pub fn router(&self) -> Router {
        let shared = Arc::clone(&self.shared);
        Router::new()
            .route("/livez", get(api::livez))
            .route("/readyz", get(api::readyz))
            .route("/metrics", get(api::metrics))
            .nest("/v1", api::v1(Arc::clone(&shared)))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                shared.config.request_timeout,
            ))
            .with_state(shared)
    }

    /// Serves on `listener` until `shutdown` completes: repairs interrupted writes (when the
    /// registry has a journal), starts the schedule and the readiness checks, then on shutdown
    /// stops accepting, lets open requests finish, cancels a sync in flight (its progress is
    /// kept and the next start resumes it) and returns within
    /// [`ServiceConfig::shutdown_deadline`], or, while writes are in flight, when they finish
    /// (at most [`ServiceConfig::write_grace`]; an error when one had to be cut off).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shared = Arc::clone(&self.shared);
        // Interrupted writes of a previous process are finished before any new one.
        if let Err(error) = shared.registry.repair().await {
            tracing::error!(error = %connector_sdk::error_chain(&error),
                "the write journal could not be read; interrupted writes are repaired when a \
                 write reaches their principal");
        }
        supervise(
            &shared,
            "readiness",
            api::check_readiness(Arc::clone(&shared)),
        );
        if shared.config.scheduled {
            supervise(&shared, "scheduler", syncs::schedule(Arc::clone(&shared)));
        }
        let config = &shared.config;
        let limits = serve::Limits {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            drain: config.shutdown_deadline.mul_f64(2.0 / 3.0),
        };
        let server = tokio::spawn(serve::serve(
            listener,
            self.router(),
            limits,
            shared.metrics.connections(),
            shared.shutdown.clone(),
        ));
        tokio::select! {
            () = shutdown => {}
            () = shared.shutdown.cancelled() => {}
        }
        let now = tokio::time::Instant::now();
        let deadline = now + config.shutdown_deadline;
        let write_deadline = now + config.write_grace;
        tracing::info!("shutting down: no new requests; cancelling the sync in flight");
        shared.shutdown.cancel();
        syncs::cancel(&shared);
        shared.writes.close();
        let served = tokio::time::timeout_at(deadline, server).await;
        let mut cut = 0;
        if tokio::time::timeout_at(write_deadline, shared.writes.wait())
            .await
            .is_err()
        {
            cut = shared.writes.len();
            tracing::error!(
                writes = cut,
                "writes still in flight after the write grace are cut off; the write journal \
                 repairs them at the next start"
            );
        }
        if tokio::time::timeout_at(deadline, syncs::wait(&shared))
            .await
            .is_err()
        {
            tracing::warn!("the sync in flight did not stop by the shutdown deadline");
        }
        match served {
            Ok(Err(join)) if join.is_panic() => {
                Err(std::io::Error::other("the server task panicked"))
            }
            _ if cut > 0 => Err(std::io::Error::other(format!(
                "{cut} write(s) were still in flight after the {} s write grace; the write \
                 journal repairs them at the next start",
                config.write_grace.as_secs()
            ))),
            _ => Ok(()),
        }
    }

    /// Whether every background task is still running: `Err` names those that stopped.
    pub fn live(&self) -> Result<(), Vec<String>> {
        live(&self.shared)
    }

    /// Starts a sync now, as `POST /v1/syncs` does; the run it began.
    pub async fn start_sync(&self) -> Result<connector_sdk::RunId, ApiError> {
        syncs::start(&self.shared).await
    }
}

/// Serves `router` (probes and metrics of another host, such as ConductorOne service mode)
/// with the service's connection limits until `shutdown` completes: a request head must arrive
/// within 10 s (which also closes idle keep-alive connections), at most 64 connections are
/// open at once (more wait in the listen backlog), and open requests get 2 s after `shutdown`.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
) {
    let stop = CancellationToken::new();
    let limits = serve::Limits {
        header_read_timeout: Duration::from_secs(10),
        max_connections: 64,
        drain: Duration::from_secs(2),
    };
    let open = prometheus_client::metrics::gauge::Gauge::default();
    let server = serve::serve(listener, router, limits, open, stop.clone());
    tokio::pin!(server);
    tokio::select! {
        () = &mut server => {}
        () = shutdown => {
            stop.cancel();
            server.await;
        }
    }
}

/// The OpenMetrics text of `registry`, as a `/metrics` answer.
pub fn metrics_response(
    registry: &prometheus_client::registry::Registry,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, registry) {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("the metrics could not be encoded: {error}\n"),
        )
            .into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Runs a background task and records it as dead if it ends, or panics, before shutdown.
pub(crate) fn supervise(
    shared: &Arc<Shared>,
    name: &'static str,
    task: impl Future<Output = ()> + Send + 'static,
) {
    let handle = tokio::spawn(task);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let ended = handle.await;
        if shared.shutdown.is_cancelled() {
            return;
        }
        let why = match ended {
            Ok(()) => format!("the {name} task stopped"),
            Err(error) if error.is_panic() => format!("the {name} task panicked"),
            Err(_) => format!("the {name} task was cancelled"),
        };
        tracing::error!(task = name, "{why}; the service is not live");
        shared
            .dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(why);
    });
}

/// `Err` with the background tasks that stopped.
pub(crate) fn live(shared: &Shared) -> Result<(), Vec<String>> {
    let dead = shared
        .dead
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if dead.is_empty() { Ok(()) } else { Err(dead) }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl connector_sdk::Connector for Fixed {
        fn fingerprint(&self) -> connector_sdk::Fingerprint {
            connector_sdk::Fingerprint::new("tenant", "the test tenant")
        }
    }

    /// A connector that counts its scrapes.
    struct Counting(std::sync::atomic::AtomicU64);

    impl connector_sdk::Connector for Counting {
        fn fingerprint(&self) -> connector_sdk::Fingerprint {
            connector_sdk::Fingerprint::new("tenant", "counting")
        }

        fn stats(&self) -> Vec<connector_sdk::Stat> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            vec![connector_sdk::Stat::new(
                "counted_things",
                "Things counted",
                n,
            )]
        }
    }

    #[tokio::test]
    async fn a_connectors_own_counters_are_metrics() {
        let metadata = connector_sdk::ConnectorMetadata::new("c", "C", "counts");
        let counting = Counting(std::sync::atomic::AtomicU64::new(5));
        let registry = Registry::builder(metadata, counting).build().unwrap();
        let auth = Auth::bearer("t".repeat(MIN_TOKEN_CHARS)).unwrap();
        let service = Service::new(
            registry,
            Arc::new(connector_sdk::MemoryStore::new()),
            ServiceConfig::new(auth),
        );
        let scrape = || async {
            let response = api::metrics(axum::extract::State(Arc::clone(&service.shared))).await;
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        };
        let first = scrape().await;
        assert!(
            first.contains("# HELP counted_things Things counted"),
            "{first}"
        );
        assert!(first.contains("\ncounted_things 6\n"), "{first}");
        assert!(scrape().await.contains("\ncounted_things 7\n"));
    }

    #[tokio::test]
    async fn a_background_task_that_stops_makes_the_service_not_live() {
        let metadata = connector_sdk::ConnectorMetadata::new("t", "T", "a test connector");
        let registry = Registry::builder(metadata, Fixed).build().unwrap();
        let auth = Auth::bearer("t".repeat(MIN_TOKEN_CHARS)).unwrap();
        let service = Service::new(
            registry,
            Arc::new(connector_sdk::MemoryStore::new()),
            ServiceConfig::new(auth),
        );
        assert_eq!(service.live(), Ok(()));
        supervise(&service.shared, "scheduler", async { panic!("boom") });
        supervise(&service.shared, "readiness", async {});
        for _ in 0..100 {
            if service.live().is_err_and(|dead| dead.len() == 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut dead = service.live().unwrap_err();
        dead.sort();
        assert_eq!(
            dead,
            ["the readiness task stopped", "the scheduler task panicked"]
        );
        let response = axum::body::to_bytes(
            axum::response::IntoResponse::into_response(
                api::livez(axum::extract::State(Arc::clone(&service.shared))).await,
            )
            .into_body(),
            1024,
        )
        .await
        .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&response).unwrap();
        assert_eq!(body["live"], false);
    }
}
