//! The Coupa connector served by connector-service over real HTTP on loopback, against coupa-sim.

#![allow(missing_docs, unreachable_pub)]

mod api;
mod lifecycle;

use std::sync::Arc;
use std::time::Duration;

use connector_sdk::{RetryPolicy, SqliteStore, SyncConfig};
use connector_service::{Auth, Service, ServiceConfig};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use coupa_sim::CoupaSim;

pub const TOKEN: &str = "test-token-0123456789-abcdefghijklmnop";

/// A running service and what a test needs to talk to it.
pub struct Running {
    pub base: String,
    pub http: reqwest::Client,
    pub connector: CoupaConnector,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the bearer token.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(TOKEN)
    }

    /// Sends an authenticated request without a body.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.authed(method, path).send().await.unwrap()
    }

    /// `GET path` with the token, as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.call(reqwest::Method::GET, path)
            .await
            .json()
            .await
            .unwrap()
    }

    /// The address the service listens on.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Stops the service and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
    }

    /// Polls `GET /v1/syncs/{run}` until it is no longer running.
    pub async fn wait_for(&self, run: i64) -> serde_json::Value {
        for _ in 0..600 {
            let body = self.get_json(&format!("/v1/syncs/{run}")).await;
            if body["status"] != "running" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {run} did not end");
    }
}

/// Serves the Coupa connector for `sim` with `configure` applied to the defaults (no schedule).
pub async fn serve(
    sim: &CoupaSim,
    configure: impl FnOnce(ServiceConfig) -> ServiceConfig,
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut running = serve_at(sim, &dir.path().join("service.db"), configure).await;
    running._dir = Some(dir);
    running
}

/// The Coupa connector for `sim`.
pub fn coupa(sim: &CoupaSim) -> CoupaConnector {
    let client =
        coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret())
            .unwrap();
    CoupaConnector::new(ConnectorConfig::new(client)).unwrap()
}

/// Serves the Coupa connector for `sim`, storing syncs in the SQLite file `db`.
pub async fn serve_at(
    sim: &CoupaSim,
    db: &std::path::Path,
    configure: impl FnOnce(ServiceConfig) -> ServiceConfig,
) -> Running {
    serve_store(sim, Arc::new(SqliteStore::open(db).unwrap()), configure).await
}

/// Serves the Coupa connector for `sim`, storing syncs in `store`.
pub async fn serve_store(
    sim: &CoupaSim,
    store: Arc<SqliteStore>,
    configure: impl FnOnce(ServiceConfig) -> ServiceConfig,
) -> Running {
    let connector = coupa(sim);
    let config = ServiceConfig::new(Auth::bearer(TOKEN).unwrap())
        .with_schedule(false)
        .with_readiness_interval(Duration::from_millis(200))
        .with_sync(
            SyncConfig::default().with_workers(4).with_retry(
                RetryPolicy::default()
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
            ),
        );
    let service = Service::new(connector.registry(), store, configure(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        base,
        http: reqwest::Client::new(),
        connector,
        stop: Some(stop),
        served: Some(served),
        _dir: None,
    }
}
