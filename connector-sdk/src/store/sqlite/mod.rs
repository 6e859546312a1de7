//! [`SqliteStore`]: one SQLite file in WAL mode, one transaction per page. The schema and its
//! migrations, the host's queries and the engine's work queue each have a module; this one holds
//! the store, its connection and the helpers they share.

mod journal;
mod queries;
mod schema;
mod work_queue;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};

use super::lease::{self, Decision, OpenRun};
use super::{
    BeginRun, Begun, Holder, IntegrityIssue, NewWork, PageCommit, RunCounts, RunId, RunStatus,
    Store, StoreError, SyncDiff, SyncRun, WorkId, WorkItem, WorkKind, WorkQueue, now_ms,
};
use crate::capability::PageToken;
use crate::model::{
    Annotation, Entitlement, EntitlementId, Grant, Resource, ResourceId, ResourceType,
    ResourceTypeId,
};

/// Turns SQLite's and serde_json's errors into [`StoreError`]s: no public conversion from either
/// crate's types exists, so neither is part of the SDK's API.
trait Backend<T> {
    fn backend(self) -> Result<T, StoreError>;
}

impl<T> Backend<T> for rusqlite::Result<T> {
    fn backend(self) -> Result<T, StoreError> {
        self.map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::Full(Box::new(e)),
            _ => StoreError::Backend(Box::new(e)),
        })
    }
}

impl<T> Backend<T> for serde_json::Result<T> {
    fn backend(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
    }
}
const RUN_COLUMNS: &str = "id, connector, started_at_ms, finished_at_ms, status, fingerprint, failure, holder, heartbeat_ms";

/// A run row as read.
type RunRow = (
    i64,
    String,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// The embedded default store: one SQLite file (WAL, `synchronous=NORMAL`), one transaction per
/// page. The schema is in `connector-sdk/src/store/schema.sql` and documented in
/// `docs/store.md`, so the file can be queried with `sqlite3`.
pub struct SqliteStore {
    /// The engine's connection: every write, and reads of the work queue.
    conn: Mutex<Connection>,
    /// The host's queries on a file-backed store (`None` in memory: they share `conn`).
    reader: Option<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn parse_resource_id(text: &str) -> Result<ResourceId, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored resource id: {e}")))
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`. A new file is readable by its owner only
    /// (`0600`, as SQLite then makes its `-wal` and `-shm`), whatever the umask; an existing
    /// one with wider permissions is left as it is, with a warning.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        crate::files::ensure_private(path).map_err(|e| StoreError::Backend(Box::new(e)))?;
        Self::init(Connection::open(path).backend()?)?.with_reader(path)
    }

    /// A store in memory (for tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().backend()?)
    }

    /// Caps the file at about `bytes` (rounded down to whole pages, at least one): a write
    /// past it fails with [`StoreError::Full`], as on a full disk. For a host that shares a volume
    /// with other data, and for tests of a full disk.
    pub fn set_max_size(&self, bytes: u64) -> Result<(), StoreError> {
        let conn = self.conn()?;
        let page: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .backend()?;
        let pages = (bytes / u64::try_from(page).unwrap_or(4096).max(1)).max(1);
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .backend()?;
        Ok(())
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// The connection of the host's queries ([`Store`]'s methods).
    fn read_conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        match &self.reader {
            Some(reader) => reader.lock().map_err(|_| StoreError::Poisoned),
            None => self.conn(),
        }
    }

    fn check_run(conn: &Connection, run: RunId) -> Result<(), StoreError> {
        let exists: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sync_runs WHERE id = ?1)",
                [run.0],
                |r| r.get(0),
            )
            .backend()?;
        if exists {
            Ok(())
        } else {
            Err(StoreError::UnknownRun(run))
        }
    }

    fn insert_work(tx: &Transaction<'_>, run: RunId, work: &[NewWork]) -> Result<(), StoreError> {
        let mut token_stmt = tx
            .prepare_cached(
                "INSERT INTO page_tokens (run_id, kind, resource_type, scope, token)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .backend()?;
        let mut work_stmt = tx
            .prepare_cached(
                "INSERT INTO work (run_id, stage, kind, resource_type, scope, token)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .backend()?;
        for item in work {
            let kind = &item.kind;
            let scope = kind.scope().map(ToString::to_string);
            let resource_type = kind.resource_type().to_string();
            if let Some(token) = &item.token {
                let inserted = token_stmt.execute(params![
                    run.0,
                    kind.tag(),
                    resource_type,
                    scope.as_deref().unwrap_or(""),
                    token.as_str()
                ]);
                match inserted {
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == ErrorCode::ConstraintViolation =>
                    {
                        return Err(StoreError::TokenRepeated {
                            token: token.as_str().to_owned(),
                        });
                    }
                    other => {
                        other.backend()?;
                    }
                }
            }
            work_stmt
                .execute(params![
                    run.0,
                    kind.stage().number(),
                    kind.tag(),
                    resource_type,
                    scope,
                    item.token.as_ref().map(PageToken::as_str)
                ])
                .backend()?;
        }
        Ok(())
    }

    fn read_run(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
        ))
    }

    fn to_run(
        (
            id,
            connector,
            started_at_ms,
            finished_at_ms,
            status,
            fingerprint,
            failure,
            holder,
            heartbeat_ms,
        ): RunRow,
    ) -> Result<SyncRun, StoreError> {
        Ok(SyncRun {
            id: RunId(id),
            connector,
            started_at_ms,
            finished_at_ms,
            status: RunStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?,
            fingerprint,
            failure,
            holder: holder
                .map(|h| serde_json::from_str::<Holder>(&h))
                .transpose()
                .backend()?,
            heartbeat_ms,
        })
    }

    /// Fails with [`StoreError::LeaseLost`] unless `lease` holds `run`.
    /// Runs `body` in one IMMEDIATE transaction once `lease` is found to hold `run`, and commits
    /// what it wrote (heartbeats, releases, claims and page commits).
    fn leased<T>(
        &self,
        run: RunId,
        lease: &str,
        body: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .backend()?;
        Self::check_lease(&tx, run, lease)?;
        let value = body(&tx)?;
        tx.commit().backend()?;
        Ok(value)
    }

    fn check_lease(conn: &Connection, run: RunId, lease: &str) -> Result<(), StoreError> {
        let holder: Option<Option<String>> = conn
            .query_row("SELECT holder FROM sync_runs WHERE id = ?1", [run.0], |r| {
                r.get(0)
            })
            .optional()
            .backend()?;
        let Some(holder) = holder else {
            return Err(StoreError::UnknownRun(run));
        };
        let holder: Option<Holder> = holder
            .map(|h| serde_json::from_str(&h))
            .transpose()
            .backend()?;
        match holder {
            Some(h) if h.id == lease => Ok(()),
            _ => Err(StoreError::LeaseLost(run)),
        }
    }

    fn fail_runs(tx: &Transaction<'_>, fail: &[(RunId, String)]) -> Result<(), StoreError> {
        for (run, reason) in fail {
            tx.execute(
                "UPDATE sync_runs SET status = 'failed', failure = ?2, finished_at_ms = ?3,
                 holder = NULL, heartbeat_ms = NULL WHERE id = ?1",
                params![run.0, reason, now_ms()],
            )
            .backend()?;
            tx.execute("DELETE FROM work WHERE run_id = ?1", [run.0])
                .backend()?;
            tx.execute("DELETE FROM page_tokens WHERE run_id = ?1", [run.0])
                .backend()?;
        }
        Ok(())
    }

    fn grants_query(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Grant>, StoreError> {
        let conn = self.read_conn()?;
        let mut stmt = conn.prepare_cached(sql).backend()?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .backend()?;
        let mut grants = Vec::new();
        for row in rows {
            let (et, eid, slug, pt, pid, annotations) = row.backend()?;
            let mut grant = Grant::new(
                EntitlementId::new(ResourceId::new(et.as_str(), eid), slug),
                ResourceId::new(pt.as_str(), pid),
            );
            if let Some(json) = annotations {
                grant.annotations = serde_json::from_str::<Vec<Annotation>>(&json).backend()?;
            }
            grants.push(grant);
        }
        Ok(grants)
    }

    fn id_diff(
        conn: &Connection,
        sql: &str,
        a: RunId,
        b: RunId,
        columns: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let mut stmt = conn.prepare(sql).backend()?;
        let rows = stmt
            .query_map(params![a.0, b.0], |r| {
                (0..columns)
                    .map(|i| r.get::<_, String>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .backend()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().backend()
    }
}
