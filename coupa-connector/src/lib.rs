//! The Coupa connector: Coupa users, user groups, roles, licenses, account groups and content
//! groups on the `connector-sdk` model.
//!
//! * **One users pass.** Users are listed once with a `fields` projection that brings each
//!   user's roles, user groups, account groups, content groups and license flags; every
//!   membership grant comes from that pass. The group-like listings bring the resources and
//!   their `member` entitlements. No request per group, role or license.
//! * **Account groups** need the scope `core.accounting.read`. Without it (refused by the token
//!   endpoint, absent from the granted scopes, or a 403) they are skipped with a warning naming
//!   the scope, and the sync succeeds.
//! * **Roles** come from `GET /api/roles`, or, when a tenant does not serve it (404), from the
//!   roles embedded in user records.
//!
//! Resource ids are documented in [`ids`].
//!
//! HTTP-level retries (429, 5xx, timeouts, with `Retry-After`) happen in the client; errors that
//! outlast them reach the engine as rate-limit or transient errors, and its retry policy adds a
//! few slower attempts. Writes are never retried blindly: see `docs/provisioning.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use connector_sdk::{SqliteStore, SyncConfig, SyncEngine};
//! use coupa_connector::{CoupaConnector, ConnectorConfig};
//! use tokio_util::sync::CancellationToken;
//!
//! let config = ConnectorConfig::new(coupa_connector::Config::from_env()?);
//! let connector = CoupaConnector::new(config)?;
//! let engine = SyncEngine::new(
//!     connector.registry(),
//!     Arc::new(SqliteStore::open("coupa.db")?),
//!     SyncConfig::default().with_workers(8),
//! );
//! let report = engine.run(&CancellationToken::new()).await?;
//! println!("{} grants", report.counts.total_grants());
//! # Ok(()) }
//! ```

mod errors;
pub mod ids;
mod kinds;
mod paging;
mod provision;
mod session;
mod sync;

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{Connector, ConnectorError, ConnectorMetadata, Manifest, Registry};
use coupa_client::Fields;

use crate::errors::to_connector;
use crate::kinds::Kind;
use crate::provision::{Accounts, LicenseProvisioner, ListProvisioner, SetActive};
use crate::session::{AccountGroups, RunState, Session};
use crate::sync::{GroupLike, Licenses, Users};

pub use crate::provision::WriteError;
/// The client types a host needs to configure and observe the connector, re-exported so that
/// embedding takes `connector-sdk` and this crate only.
pub use coupa_client::{
    Budget, ClientStats, Config, CoupaClient, CredentialStyle, Error as ClientError, RetryConfig,
    scopes,
};

/// A learned rate older than this is not resumed.
const LEARNED_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// This crate's version: the Coupa connector's, as programs report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the connector reaches Coupa and what it syncs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectorConfig {
    /// The client configuration (tenant, credentials, scopes, limits).
    pub client: coupa_client::Config,
    /// Sync account groups (needs `core.accounting.read`). On by default; the scope is added to
    /// the requested scopes when on.
    pub account_groups: bool,
    /// The tenant's name in the sync fingerprint; `None` (the default) uses the base URL. A
    /// simulated tenant, whose URL changes with every start, is named by what it holds instead,
    /// so two syncs of the same simulated tenant are syncs of one tenant.
    pub tenant: Option<String>,
}

impl ConnectorConfig {
    /// A configuration with account groups on.
    pub fn new(client: coupa_client::Config) -> Self {
        Self {
            client,
            account_groups: true,
            tenant: None,
        }
    }

    /// Names the tenant in the sync fingerprint (instead of its base URL).
    pub fn with_tenant(mut self, name: impl Into<String>) -> Self {
        self.tenant = Some(name.into());
        self
    }

    /// Turns account groups on or off.
    pub fn with_account_groups(mut self, on: bool) -> Self {
        self.account_groups = on;
        self
    }
}

/// The Coupa connector. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoupaConnector {
    session: Arc<Session>,
    /// The tenant as the fingerprint names it.
    tenant: String,
}

impl CoupaConnector {
    /// A connector for `config`. Makes no request.
    pub fn new(config: ConnectorConfig) -> Result<Self, coupa_client::Error> {
        let account_groups = config.account_groups;
        // One budget for every client of the connector (reads, fallback, writes): together they
        // stay under the configured rate, and their counters are one set. A host may pass its
        // own budget in the client configuration to share it further.
        let budget = config.client.budget.clone().unwrap_or_else(|| {
            coupa_client::Budget::new(config.client.rate_limit.map(std::num::NonZeroU32::get))
        });
        let config = ConnectorConfig {
            client: config.client.with_budget(budget),
            ..config
        };
        // With account groups on, ask for the accounting scope, and keep a client without it
        // for OAuth clients whose token request it would make fail.
        let (primary, fallback) = if account_groups {
            let with = config.client.clone().with_scope(scopes::ACCOUNTING_READ);
            let without: Vec<String> = config
                .client
                .scopes
                .iter()
                .filter(|s| *s != scopes::ACCOUNTING_READ)
                .cloned()
                .collect();
            (with, Some(config.client.clone().with_scopes(without)))
        } else {
            (config.client.clone(), None)
        };
        // Writes use their own clients with the write scopes, so a read-only OAuth client still
        // syncs; account-group writes also ask for the accounting scope.
        let mut write = config.client.clone();
        for scope in scopes::WRITE {
            write = write.with_scope(scope);
        }
        let tenant = config
            .tenant
            .clone()
            .unwrap_or_else(|| config.client.base_url.to_string());
        let accounting_writer = account_groups
            .then(|| CoupaClient::new(write.clone().with_scope(scopes::ACCOUNTING_READ)))
            .transpose()?;
        let writer = CoupaClient::new(write)?;
        let primary = CoupaClient::new(primary)?;
        let fallback = fallback.map(CoupaClient::new).transpose()?;
        Ok(Self {
            session: Arc::new(Session::new(primary, fallback, writer, accounting_writer)),
            tenant,
        })
    }

    /// The configured client.
    pub fn client(&self) -> &CoupaClient {
        self.session.primary()
    }

    /// HTTP requests, retries and rate-limit waits of every client the connector used (they
    /// share one budget).
    pub fn http_stats(&self) -> coupa_client::ClientStats {
        self.session.primary().stats()
    }

    /// The request budget every client of the connector draws on: hand it to other clients
    /// (`coupa_client::Config::with_budget`) to keep them under the same rate.
    pub fn budget(&self) -> &coupa_client::Budget {
        self.session.primary().budget()
    }

    /// The registration: syncers for `user`, `group`, `role`, `license`, `content_group` and,
    /// when on, `account_group`; provisioners for every type but `user`; account creation; the
    /// actions `enable_user` and `disable_user`.
    pub fn registry(&self) -> Registry {
        let session = &self.session;
        let group_like = |kind| GroupLike {
            session: session.clone(),
            kind,
        };
        let lists = |kind| ListProvisioner {
            session: session.clone(),
            kind,
        };
        let mut builder = Registry::builder(metadata(), self.clone())
            .syncer(Users {
                session: session.clone(),
            })
            .syncer(group_like(Kind::Group))
            .syncer(group_like(Kind::Role))
            .syncer(group_like(Kind::ContentGroup))
            .syncer(Licenses)
            .provisioner(ids::GROUP, lists(Kind::Group))
            .provisioner(ids::ROLE, lists(Kind::Role))
            .provisioner(ids::CONTENT_GROUP, lists(Kind::ContentGroup))
            .provisioner(
                ids::LICENSE,
                LicenseProvisioner {
                    session: session.clone(),
                },
            )
            .account_manager(Accounts {
                session: session.clone(),
            })
            .action(SetActive {
                session: session.clone(),
                active: true,
            })
            .action(SetActive {
                session: session.clone(),
                active: false,
            });
        if session.account_groups_on {
            builder = builder
                .syncer(group_like(Kind::AccountGroup))
                .provisioner(ids::ACCOUNT_GROUP, lists(Kind::AccountGroup));
        }
        // The registration is fixed, one of two shapes (account groups on or off), and a test
        // builds both: it cannot be refused.
        builder
            .build()
            .expect("the Coupa registration is valid in both shapes (tested)")
    }
}

/// The capability manifest of the default configuration, derived without credentials.
pub fn manifest() -> Manifest {
    let config = coupa_client::Config::with_base_url(
        "https://manifest.invalid/",
        "manifest",
        secrecy::SecretString::from("manifest"),
    )
    .and_then(|c| CoupaConnector::new(ConnectorConfig::new(c)));
    match config {
        Ok(connector) => connector.registry().manifest(),
        Err(e) => unreachable!("the manifest configuration is valid: {e}"),
    }
}

/// Who the Coupa connector is.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata::new(
        "coupa",
        "Coupa",
        "Coupa users, user groups, roles, licenses, account groups and content groups",
    )
}

#[async_trait]
impl Connector for CoupaConnector {
    /// One cheap real call (`GET /api/users?limit=1&fields=["id"]`). A missing scope fails with
    /// an error that names it; a missing accounting scope is a warning.
    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        // A run of its own: validation decides afresh, every time.
        let run = RunState::default();
        let client = self.session.client(&run).await?;
        client
            .users()
            .limit(1)
            .fields(Fields::of(["id"]))
            .page()
            .await
            .map_err(to_connector)?;
        let mut warnings = Vec::new();
        if self.session.account_groups_on
            && let AccountGroups::Unavailable(reason) = self.session.account_groups(&run).await?
        {
            warnings.push(reason.clone());
        }
        Ok(warnings)
    }

    /// The tenant (base URL and OAuth client id) and whether account groups are synced: what
    /// changes a sync's output. A run is resumed only under the same values.
    /// Requests sent to Coupa, their retries and the waits after a 429, over every client of the
    /// connector (one budget).
    fn stats(&self) -> Vec<connector_sdk::Stat> {
        let s = self.http_stats();
        vec![
            connector_sdk::Stat::new(
                "coupa_http_requests",
                "HTTP requests sent to Coupa",
                s.requests,
            ),
            connector_sdk::Stat::new(
                "coupa_http_retries",
                "Retries of requests to Coupa",
                s.retries,
            ),
            connector_sdk::Stat::new(
                "coupa_rate_limit_waits",
                "Waits after Coupa answered 429",
                s.rate_limit_waits,
            ),
        ]
    }

    /// The rate Coupa granted by the end of the sync, and the rate of its last 429, as JSON:
    /// the next process starts there instead of at the ceiling.
    fn learned(&self) -> Option<String> {
        let learned = self.session.primary().config().budget.as_ref()?.learned()?;
        serde_json::to_string(&learned).ok()
    }

    /// Starts the rate limit at a rate learned within the last 7 days, and probes upwards from
    /// it; an older one (a tenant's sharing may have changed) is ignored.
    fn resume_learned(&self, learned: &str, age: std::time::Duration) {
        if age > LEARNED_MAX_AGE {
            tracing::info!(
                age_s = age.as_secs(),
                "the rate learned of the tenant is over 7 days old; starting at the ceiling"
            );
            return;
        }
        let Some(budget) = self.session.primary().config().budget.as_ref() else {
            return;
        };
        match serde_json::from_str::<coupa_client::LearnedRate>(learned) {
            Ok(learned) => {
                budget.resume(&learned);
                tracing::info!(
                    rate = budget.current_rate(),
                    last_limit = learned.limit,
                    age_s = age.as_secs(),
                    "starting at the rate learned of the tenant"
                );
            }
            Err(error) => {
                tracing::warn!(%error, "the learned rate kept in the store is unreadable")
            }
        }
    }

    fn fingerprint(&self) -> connector_sdk::Fingerprint {
        let config = self.session.primary().config();
        connector_sdk::Fingerprint::new("tenant", &self.tenant)
            .with("client_id", &config.client_id)
            .with("account_groups", self.session.account_groups_on)
    }
}
