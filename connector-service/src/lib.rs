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
//!   connector reports ([`ServiceConfig::with_stats`]).
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
//! let config = ServiceConfig::new(Auth::bearer("a long random token"));
//! let service = Service::new(registry, store, config);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! service.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod api;
mod error;
mod metrics;
mod syncs;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use connector_sdk::backend::WorkQueue;
use connector_sdk::{Registry, SyncConfig};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use metrics::{Stat, StatsSource};

/// Who may call `/v1`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// Requests must carry `Authorization: Bearer <token>`; compared in constant time.
    Bearer(SecretString),
    /// No authentication. Only for a service no one else can reach.
    InsecureNone,
}

impl Auth {
    /// Bearer authentication with `token`.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(SecretString::from(token.into()))
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
    /// Values the connector reports on `/metrics`.
    pub stats: Option<StatsSource>,
    /// Whether the service syncs on its own schedule (on by default); off, syncs start only
    /// through `POST /v1/syncs`.
    pub scheduled: bool,
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
            stats: None,
            scheduled: true,
        }
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

    /// Reports the connector's own values on `/metrics`.
    pub fn with_stats(mut self, stats: StatsSource) -> Self {
        self.stats = Some(stats);
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
        let metrics = metrics::Metrics::new(config.stats.clone());
        Self {
            shared: Arc::new(Shared {
                registry,
                store,
                config,
                syncs: Mutex::new(syncs::Syncs::default()),
                ready: Mutex::new(Err("the connector has not been validated yet".into())),
                metrics,
                shutdown: CancellationToken::new(),
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

    /// Serves on `listener` until `shutdown` completes: starts the schedule and the readiness
    /// checks, then on shutdown stops accepting, cancels a sync in flight (its progress is kept
    /// and the next start resumes it) and returns once it has stopped, within about 10 s.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(api::check_readiness(Arc::clone(&shared)));
        if shared.config.scheduled {
            tokio::spawn(syncs::schedule(Arc::clone(&shared)));
        }
        let stop = shared.shutdown.clone();
        let stopping = Arc::clone(&shared);
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: no new requests; cancelling the sync in flight");
                stop.cancel();
                syncs::cancel(&stopping);
            })
            .await;
        shared.shutdown.cancel();
        syncs::cancel(&shared);
        if tokio::time::timeout(Duration::from_secs(10), syncs::wait(&shared))
            .await
            .is_err()
        {
            tracing::warn!("the sync in flight did not stop within 10 s");
        }
        served
    }

    /// Starts a sync now, as `POST /v1/syncs` does; the run it began.
    pub async fn start_sync(&self) -> Result<connector_sdk::RunId, ApiError> {
        syncs::start(&self.shared).await
    }
}
