//! Any connector on `connector_sdk` as a ConductorOne self-hosted connector: baton's "service
//! mode". The connector authenticates with a ConductorOne client id and secret, pulls tasks
//! over gRPC (full syncs, grants, revokes, account creation, actions), runs them against its
//! [`Registry`] and reports back; a full sync is uploaded as a `.c1z` written by `c1z`.
//!
//! ```no_run
//! # async fn run(registry: connector_sdk::Registry) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use c1_service_mode::{Config, ServiceMode};
//! use secrecy::SecretString;
//!
//! let config = Config::new(
//!     "happy-otter-1@acme.conductor.one/pcc",
//!     SecretString::from(std::env::var("BATON_CLIENT_SECRET")?),
//! )?
//! .with_provisioning(true);
//! let store = Arc::new(connector_sdk::SqliteStore::open("c1.db")?);
//! let shutdown = std::future::pending::<()>(); // a program passes its SIGTERM handler
//! ServiceMode::new(registry, store, config)?.run(shutdown).await;
//! # Ok(()) }
//! ```
//!
//! `docs/conductorone.md` describes the protocol as implemented, what each task does, and what
//! of the reference could not be confirmed.

mod client;
mod credentials;
mod metadata;
mod proto;
mod proxy;
mod runner;
mod shared;
mod stats;
mod tasks;
mod token;

#[cfg(feature = "testing")]
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connector_sdk::backend::WorkQueue;
use connector_sdk::{Registry, SyncConfig};
use secrecy::SecretString;

pub use client::CallError;
pub use credentials::{ClientId, ClientSecret, CredentialsError};
pub use stats::{TaskCount, TaskStats};
pub use token::TokenError;

/// How to run in service mode.
#[derive(Debug, Clone)]
pub struct Config {
    client_id: ClientId,
    secret: ClientSecret,
    api_host: Option<String>,
    ca_bundle_pem: Option<Vec<u8>>,
    host_id: String,
    provisioning: bool,
    concurrency: usize,
    min_poll: Duration,
    shutdown_grace: Duration,
    write_grace: Duration,
    call_deadline: Duration,
    upload_stall: Duration,
    liveness_bound: Duration,
    temp_dir: Option<PathBuf>,
    sync: SyncConfig,
    package: (String, String),
}

impl Config {
    /// Service mode for a ConductorOne client: `client_id` is `<name>@<host[:port]>/<suffix>`,
    /// `secret` is `secret-token:conductorone.com:v1:<key>`. Both are checked now; an error
    /// never shows the secret.
    pub fn new(client_id: &str, secret: SecretString) -> Result<Self, CredentialsError> {
        let client_id = ClientId::parse(client_id)?;
        let secret = ClientSecret::parse(&secret)?;
        Ok(Self {
            client_id,
            secret,
            api_host: None,
            ca_bundle_pem: None,
            host_id: default_host_id(),
            provisioning: false,
            concurrency: 3,
            min_poll: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            write_grace: WRITE_GRACE,
            call_deadline: Duration::from_secs(60),
            upload_stall: Duration::from_secs(60),
            liveness_bound: LIVENESS_BOUND,
            temp_dir: None,
            sync: SyncConfig::default(),
            package: (
                env!("CARGO_PKG_NAME").to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        })
    }

    /// Talks to `host[:port]` instead of the client id's host (baton's `BATON_C1_API_HOST`).
    /// The token's audience stays the client id's host.
    pub fn with_api_host(mut self, host: impl Into<String>) -> Self {
        self.api_host = Some(host.into()).filter(|h: &String| !h.trim().is_empty());
        self
    }

    /// Also trusts the certificates of this PEM bundle (what `SSL_CERT_FILE` names), besides
    /// the platform's roots.
    pub fn with_ca_bundle_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_bundle_pem = Some(pem);
        self
    }

    /// How this host names itself to ConductorOne (default: `BATON_HOST_ID`, else the host
    /// name, else `baton-sdk`); cut to 256 characters.
    pub fn with_host_id(mut self, host_id: impl Into<String>) -> Self {
        let host_id: String = host_id.into().chars().take(256).collect();
        if !host_id.is_empty() {
            self.host_id = host_id;
        }
        self
    }

    /// Runs grant, revoke, account-creation and action tasks (baton's `--provisioning`).
    /// Without it they finish with a non-retryable error saying so.
    pub fn with_provisioning(mut self, provisioning: bool) -> Self {
        self.provisioning = provisioning;
        self
    }

    /// Tasks run at once (1 to 100, default 3).
    pub fn with_concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = tasks.clamp(1, 100);
        self
    }

    /// The shortest wait between two polls that found no task (default 1 s), whatever
    /// `next_poll` says.
    pub fn with_min_poll(mut self, wait: Duration) -> Self {
        self.min_poll = wait;
        self
    }

    /// How long a shutdown waits for tasks in flight before cancelling them (default 10 s).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// How long a shutdown lets a write in flight (grant, revoke, account creation, action)
    /// finish, from the signal on, even past the shutdown grace: a write cut between its
    /// requests is left to the write journal, which repairs it at the next start (default
    /// 60 s: a 429 that asks for a wait, answered once, still fits). A Kubernetes pod's
    /// `terminationGracePeriodSeconds` must exceed it.
    pub fn with_write_grace(mut self, grace: Duration) -> Self {
        self.write_grace = grace;
        self
    }

    /// The deadline of Hello and GetTask (default 60 s; Heartbeat and FinishTask have 30 s, the
    /// token request 30 s): a call that is not answered by then fails and is retried with
    /// backoff, so a control plane (or a box on the way) that accepts and never answers cannot
    /// hold the connector.
    pub fn with_call_deadline(mut self, deadline: Duration) -> Self {
        self.call_deadline = deadline;
        self
    }

    /// How long an upload may go without taking a chunk, or without an answer after its last
    /// one (default 60 s). Uploads have no overall deadline: a large file on a slow link goes
    /// on as long as it moves. A stalled upload fails the task, retryably.
    pub fn with_upload_stall(mut self, stall: Duration) -> Self {
        self.upload_stall = stall;
        self
    }

    /// How long the task loop may go without moving (a poll, a retry, a heartbeat, an upload
    /// chunk) before [`TaskStats::live`] fails (default 10 min: longer than the longest wait
    /// the loop makes, 5 min between polls or Hello retries, plus a call's deadline).
    pub fn with_liveness_bound(mut self, bound: Duration) -> Self {
        self.liveness_bound = bound;
        self
    }

    /// Where sync files are written before their upload (default: the OS temp directory).
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// The engine's settings for sync tasks.
    pub fn with_sync(mut self, sync: SyncConfig) -> Self {
        self.sync = sync;
        self
    }

    /// The package and version Hello reports (default: this crate's).
    pub fn with_build(mut self, package: impl Into<String>, version: impl Into<String>) -> Self {
        self.package = (package.into(), version.into());
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// `host[:port]` of the token endpoint and the service.
    pub fn api_host(&self) -> &str {
        self.api_host
            .as_deref()
            .unwrap_or_else(|| self.client_id.host())
    }
}

/// How long the task loop may stand still before liveness fails, by default.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(600);

/// How long a shutdown waits for writes in flight by default.
pub const WRITE_GRACE: Duration = Duration::from_secs(60);

/// How service mode stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// Writes still in flight when the write grace ran out, cut off: the write journal
    /// repairs them at the next start.
    pub writes_cut: usize,
}

/// `BATON_HOST_ID`, else the host name, else `baton-sdk`.
fn default_host_id() -> String {
    let named = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    named(std::env::var("BATON_HOST_ID").ok())
        .or_else(|| named(std::fs::read_to_string("/etc/hostname").ok()))
        .or_else(|| named(std::env::var("HOSTNAME").ok()))
        .unwrap_or_else(|| "baton-sdk".to_owned())
        .chars()
        .take(256)
        .collect()
}

/// Why service mode could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The channel could not be set up (a bad host, a TLS set-up error).
    #[error("cannot set up the connection to {host}: {what}")]
    Transport {
        /// `host[:port]`.
        host: String,
        /// What failed.
        what: &'static str,
        /// The underlying error (reqwest's, tonic's, a proxy address's).
        #[source]
        source: connector_sdk::BoxError,
    },
}

/// A connector running in service mode.
pub struct ServiceMode {
    inner: Arc<shared::Shared>,
}

impl ServiceMode {
    /// Service mode for `registry`, syncing into `store` (an interrupted sync task resumes in
    /// it), with `config`.
    pub fn new(
        registry: Registry,
        store: Arc<dyn WorkQueue>,
        config: Config,
    ) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(shared::Shared::new(registry, store, config)?),
        })
    }

    /// The task counters, for metrics and readiness.
    pub fn stats(&self) -> Arc<TaskStats> {
        self.inner.stats.clone()
    }

    /// Says Hello, repairs the writes a previous process left interrupted (when the registry
    /// has a journal), then polls for tasks and runs them until `shutdown` completes; then
    /// stops polling, cancels a sync at once, lets other tasks finish within the shutdown grace
    /// (10 s) and writes within the write grace (60 s), cuts off the rest, and returns how
    /// many writes it cut.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) -> Stopped {
        runner::run(self.inner, shutdown).await
    }
}
