//! [`PostgresStore`]: PostgreSQL as the shared store of many hosts. The schema and its
//! migrations, the host's queries, the engine's work queue and the journal each have a module;
//! this one holds the store, its pool and the helpers they share.
//!
//! The store's traits are synchronous (the engine and the hosts call them from blocking threads),
//! the driver is async: each call runs on a small runtime of the store's own, on the calling
//! thread, so a call never needs (or blocks) the caller's runtime.

mod journal;
mod page;
mod queries;
mod schema;
mod work_queue;

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;

use super::lease::Holder;
use super::{RunId, RunStatus, StoreError, SyncRun};
use crate::model::{Annotation, EntitlementId, Grant, ResourceId};

/// Turns the driver's, the pool's and serde_json's errors into [`StoreError`]s.
trait Backend<T> {
    fn backend(self) -> Result<T, StoreError>;
}

impl<T> Backend<T> for Result<T, tokio_postgres::Error> {
    fn backend(self) -> Result<T, StoreError> {
        self.map_err(|e| match e.code() {
            Some(code) if *code == SqlState::DISK_FULL => StoreError::Full(Box::new(e)),
            _ => StoreError::Backend(Box::new(e)),
        })
    }
}

impl<T> Backend<T> for Result<T, deadpool_postgres::PoolError> {
    fn backend(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Backend(Box::new(e)))
    }
}

impl<T> Backend<T> for serde_json::Result<T> {
    fn backend(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
    }
}

/// The runtime the driver's connections live on: two threads for every store of the process.
fn runtime() -> Result<&'static tokio::runtime::Runtime, StoreError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("postgres-store")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StoreError::Backend(format!("cannot start the store's runtime: {e}").into()))
}

/// Runs `work` to completion on the calling thread, with the store's runtime entered: a new
/// connection's socket and task live there, so what `work` awaits is answered by the store's
/// threads and never needs the calling thread's own runtime, if it has one.
///
/// Unconstrained by tokio's cooperative budget: on a thread of a runtime (a host calling from
/// async code, a test), the budget of the task that blocks here would run out after a number of
/// store calls and park this thread for a wake-up that only that blocked task could give.
///
/// A call that takes longer than `limit` fails: a server that stops answering never holds a
/// caller for ever.
fn block_on_within<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let _entered = runtime()?.enter();
    futures::executor::block_on(tokio::task::unconstrained(async {
        tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(StoreError::Backend(
                format!("the database did not answer within {} s", limit.as_secs()).into(),
            ))
        })
    }))
}

/// Idle time before the first TCP keepalive probe of a connection.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Time between keepalive probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes after which the connection is dropped.
const KEEPALIVE_RETRIES: u32 = 3;
/// How long sent data may stay unacknowledged before the connection is dropped (Linux).
#[cfg(target_os = "linux")]
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest statement the server runs for the store by default (sealing a run of ten
/// million grants takes about a tenth of it).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);
/// How much longer than its statements a call may take before the store gives up on a server
/// that stopped answering altogether.
const CALL_MARGIN: Duration = Duration::from_secs(30);

/// Where a [`PostgresStore`] connects: a `postgres://` URL (or `key=value` string) and the
/// standard `PG*` variables for what it leaves out, a schema, a pool size.
///
/// ```no_run
/// # fn main() -> Result<(), connector_sdk::StoreError> {
/// use connector_sdk::PostgresStore;
/// let store = PostgresStore::options("postgres://sync@db.internal/identity")?
///     .schema("connectors")
///     .max_connections(8)
///     .connect()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresOptions {
    config: tokio_postgres::Config,
    schema: String,
    max_connections: usize,
    connect_timeout: Duration,
    statement_timeout: Duration,
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("target", &describe(&self.config))
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// `user@host:port/database`, never the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

impl PostgresOptions {
    /// Options for `url` (`postgres://user:password@host:port/database?…`, or libpq's
    /// `key=value` form). What the URL leaves out is taken from `PGHOST`, `PGPORT`, `PGUSER`,
    /// `PGPASSWORD` and `PGDATABASE`, as libpq does; then `localhost`, 5432 and the user
    /// `postgres`. A malformed URL is an error that does not repeat it (it may hold a password).
    pub fn new(url: &str) -> Result<Self, StoreError> {
        Self::with_env(url, |name| std::env::var(name).ok())
    }

    fn with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                StoreError::Backend(format!("the PostgreSQL URL does not parse: {e}").into())
            })?;
        if config.get_hosts().is_empty() {
            config.host(env("PGHOST").as_deref().unwrap_or("localhost"));
        }
        if let (true, Some(port)) = (config.get_ports().is_empty(), env("PGPORT")) {
            let port = port.parse::<u16>().map_err(|_| {
                StoreError::Backend(format!("PGPORT {port:?} is not a port").into())
            })?;
            config.port(port);
        }
        if config.get_user().is_none() {
            config.user(env("PGUSER").as_deref().unwrap_or("postgres"));
        }
        if let (None, Some(password)) = (config.get_password(), env("PGPASSWORD")) {
            config.password(password);
        }
        if let (None, Some(db)) = (config.get_dbname(), env("PGDATABASE")) {
            config.dbname(db);
        }
        config.application_name("connector-sdk");
        Ok(Self {
            config,
            schema: "public".to_owned(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: STATEMENT_TIMEOUT,
        })
    }

    /// The database as `user@host:port/database`, never the password (for logs and messages).
    pub fn describe(&self) -> String {
        describe(&self.config)
    }

    /// The schema the store's tables live in (`public` by default; lowercase letters, digits and
    /// `_`); created when missing. One database can hold several stores side by side, each in
    /// its own schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// At most this many connections (8 by default, at least 1).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long connecting may take, and how long a call waits for a free connection (10 s by
    /// default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest a statement may run on the server (10 min by default; at least 1 s): the
    /// server cancels it, and a call whose server stops answering altogether fails 30 s later.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// Connects, creates the schema when missing and applies the migrations it lacks (once,
    /// whichever of several hosts starting together gets there first).
    pub fn connect(self) -> Result<PostgresStore, StoreError> {
        let valid = self.schema.len() <= 63
            && self
                .schema
                .starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && self
                .schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::Backend(
                format!(
                    "schema name {:?}: use at most 63 lowercase letters, digits and `_`, not \
                     starting with a digit",
                    self.schema
                )
                .into(),
            ));
        }
        let mut config = self.config.clone();
        config.connect_timeout(self.connect_timeout);
        // A server that stops answering (a dead host, a cut network) is noticed within about a
        // minute instead of the system's two hours; a statement the server itself runs for more
        // than ten minutes is cancelled by it.
        config.keepalives(true);
        config.keepalives_idle(KEEPALIVE_IDLE);
        config.keepalives_interval(KEEPALIVE_INTERVAL);
        config.keepalives_retries(KEEPALIVE_RETRIES);
        #[cfg(target_os = "linux")]
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
        // Commits do not wait for the server's disk: a page lost to a crash of the server is
        // fetched again when the run resumes, as with SQLite's `synchronous=NORMAL`. The write
        // journal, which must survive, commits with `synchronous_commit = on`.
        config.options(format!(
            "-c search_path=\"{}\" -c synchronous_commit=off -c statement_timeout={}",
            self.schema,
            self.statement_timeout.as_millis()
        ));
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(self.connect_timeout))
            .create_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let store = PostgresStore {
            pool,
            target: describe(&self.config),
            schema: self.schema,
            call_limit: self.statement_timeout + CALL_MARGIN,
        };
        store.block_on(store.migrate())?;
        Ok(store)
    }
}

/// The shared store: PostgreSQL, for hosts on many machines and databases that hold many
/// tenants. Everything [`SqliteStore`](crate::SqliteStore) keeps, in tables of one schema
/// (`docs/store.md` has them and the query plans): runs keyed by connector and fingerprint,
/// rows, keyset pages, the work queue, leases (a row lock per run, taken over by another host
/// once its holder's heartbeat is stale), the write journal and what connectors learned.
///
/// Every row of a run is written in the transaction of the page that produced it, so a host
/// killed anywhere leaves a run another host can resume.
pub struct PostgresStore {
    pool: Pool,
    target: String,
    schema: String,
    /// How long one call may take.
    call_limit: Duration,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` with the default options (schema `public`, 8 connections); see
    /// [`PostgresOptions::new`] for the URL and the variables it reads.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        PostgresOptions::new(url)?.connect()
    }

    /// Options for `url`, to set the schema or the pool size before connecting.
    pub fn options(url: &str) -> Result<PostgresOptions, StoreError> {
        PostgresOptions::new(url)
    }

    /// Whether `text` names a PostgreSQL store (`postgres://…` or `postgresql://…`) rather than
    /// a file.
    pub fn is_url(text: &str) -> bool {
        ["postgres://", "postgresql://"].iter().any(|scheme| {
            text.len() >= scheme.len() && text[..scheme.len()].eq_ignore_ascii_case(scheme)
        })
    }

    /// `user@host:port/database` (never the password) and the schema, for logs.
    pub fn describe(&self) -> String {
        format!("{} (schema {})", self.target, self.schema)
    }

    /// Drops the store's schema and everything in it, for tests and for tearing a store down
    /// on purpose. The store is unusable afterwards.
    pub fn drop_schema(&self) -> Result<(), StoreError> {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        self.block_on(async {
            let client = self.client().await?;
            client.batch_execute(&sql).await.backend()?;
            Ok(())
        })
    }

    /// Runs `work` on the calling thread within the store's call limit ([`block_on_within`]).
    fn block_on<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        block_on_within(self.call_limit, work)
    }

    /// A connection from the pool (within [`block_on_within`], which makes a new one on the store's
    /// runtime).
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.backend()
    }
}

const RUN_COLUMNS: &str = "id, connector, started_at_ms, finished_at_ms, status, fingerprint, failure, holder, heartbeat_ms";

fn to_run(row: &tokio_postgres::Row) -> Result<SyncRun, StoreError> {
    let status: String = row.try_get(4).backend()?;
    let holder: Option<String> = row.try_get(7).backend()?;
    Ok(SyncRun {
        id: RunId(row.try_get(0).backend()?),
        connector: row.try_get(1).backend()?,
        started_at_ms: row.try_get(2).backend()?,
        finished_at_ms: row.try_get(3).backend()?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?,
        fingerprint: row.try_get(5).backend()?,
        failure: row.try_get(6).backend()?,
        holder: holder
            .map(|h| serde_json::from_str::<Holder>(&h))
            .transpose()
            .backend()?,
        heartbeat_ms: row.try_get(8).backend()?,
    })
}

/// A grant from columns `entitlement_type, entitlement_id, slug, principal_type,
/// principal_id, annotations`.
fn to_grant(row: &tokio_postgres::Row) -> Result<Grant, StoreError> {
    let et: String = row.try_get(0).backend()?;
    let pt: String = row.try_get(3).backend()?;
    let mut grant = Grant::new(
        EntitlementId::new(
            ResourceId::new(et.as_str(), row.try_get::<_, String>(1).backend()?),
            row.try_get::<_, String>(2).backend()?,
        ),
        ResourceId::new(pt.as_str(), row.try_get::<_, String>(4).backend()?),
    );
    if let Some(json) = row.try_get::<_, Option<String>>(5).backend()? {
        grant.annotations = serde_json::from_str::<Vec<Annotation>>(&json).backend()?;
    }
    Ok(grant)
}

/// A grant's `entitlement_key`: its five key columns' bytes, each followed by a zero byte but
/// the last, so that keys compare bytewise as the columns do one after another.
pub(super) fn entitlement_key(
    entitlement: &crate::model::EntitlementId,
    principal: Option<&ResourceId>,
) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    for part in [
        entitlement.resource.resource_type.as_str(),
        entitlement.resource.id.as_str(),
        entitlement.slug.as_str(),
    ] {
        key.extend_from_slice(part.as_bytes());
        key.push(0);
    }
    if let Some(principal) = principal {
        key.extend_from_slice(principal.resource_type.as_str().as_bytes());
        key.push(0);
        key.extend_from_slice(principal.id.as_bytes());
    }
    key
}

/// The first key past every grant of `entitlement`: its prefix with the final zero byte raised
/// to one.
pub(super) fn past_entitlement(entitlement: &crate::model::EntitlementId) -> Vec<u8> {
    let mut key = entitlement_key(entitlement, None);
    if let Some(last) = key.last_mut() {
        *last = 1;
    }
    key
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_url_leaves_out_comes_from_the_pg_variables() {
        let env = |name: &str| {
            Some(
                match name {
                    "PGHOST" => "db.internal",
                    "PGPORT" => "6543",
                    "PGUSER" => "sync",
                    "PGPASSWORD" => "from-env",
                    "PGDATABASE" => "identity",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        let options = PostgresOptions::with_env("postgres://", env).unwrap();
        assert_eq!(describe(&options.config), "sync@db.internal:6543/identity");
        assert_eq!(options.config.get_password(), Some(&b"from-env"[..]));
        // The URL wins over the variables.
        let options =
            PostgresOptions::with_env("postgres://ops:pw@10.0.0.5:5433/main", env).unwrap();
        assert_eq!(describe(&options.config), "ops@10.0.0.5:5433/main");
        assert_eq!(options.config.get_password(), Some(&b"pw"[..]));
        // Nothing set: libpq's defaults.
        let options = PostgresOptions::with_env("postgres:///db", |_| None).unwrap();
        assert_eq!(describe(&options.config), "postgres@localhost:5432/db");
        let err = PostgresOptions::with_env("postgres://", |n| {
            (n == "PGPORT").then(|| "many".to_owned())
        })
        .unwrap_err();
        assert_eq!(
            crate::error_chain(&err),
            "store backend failed: PGPORT \"many\" is not a port"
        );
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for bad in ["", "Acme", "a b", "x\"y", "1st", &"s".repeat(64)] {
            let err = PostgresOptions::new("postgres://h/db")
                .unwrap()
                .schema(bad)
                .connect()
                .unwrap_err();
            assert!(
                crate::error_chain(&err).contains("schema name"),
                "{bad}: {err}"
            );
        }
        assert!(PostgresStore::is_url("postgres://h/db"));
        assert!(PostgresStore::is_url("PostgreSQL://h/db"));
        assert!(!PostgresStore::is_url("sync.db"));
        assert!(!PostgresStore::is_url("postgres"));
    }

    proptest::proptest! {
        /// Keys sort as their columns do, one after another, bytewise; an entitlement's grants
        /// lie between its prefix and the key past it.
        #[test]
        fn entitlement_keys_sort_as_their_columns(
            a in proptest::collection::vec("[a-c1-3\\x{e9}]{0,3}", 5),
            b in proptest::collection::vec("[a-c1-3\\x{e9}]{0,3}", 5),
        ) {
            let key = |v: &[String]| {
                let e = EntitlementId::new(ResourceId::new(v[0].as_str(), v[1].clone()), v[2].clone());
                let p = ResourceId::new(v[3].as_str(), v[4].clone());
                (entitlement_key(&e, Some(&p)), past_entitlement(&e), entitlement_key(&e, None))
            };
            let bytes = |v: &[String]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
            let ((ka, past_a, start_a), (kb, _, _)) = (key(&a), key(&b));
            proptest::prop_assert_eq!(ka.cmp(&kb), bytes(&a).cmp(&bytes(&b)));
            proptest::prop_assert!(start_a <= ka && ka < past_a);
            let same_entitlement = a[..3] == b[..3];
            proptest::prop_assert_eq!(start_a <= kb && kb < past_a, same_entitlement);
        }
    }
}
