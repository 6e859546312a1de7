//! [`SqliteStore`]: one SQLite file in WAL mode, one transaction per page.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};

use super::lease::{self, Decision, OpenRun};
use super::{
    BeginRun, Begun, Holder, IntegrityIssue, IntegrityKind, NewWork, PageCommit, RunCounts, RunId,
    RunStatus, Store, StoreError, SyncDiff, SyncRun, WorkId, WorkItem, WorkKind, WorkQueue, now_ms,
};
use crate::capability::PageToken;
use crate::model::{
    Annotation, Entitlement, EntitlementId, Grant, GrantId, Purpose, Resource, ResourceId,
    ResourceStatus, ResourceType, ResourceTypeId,
};

const SCHEMA: &str = include_str!("schema.sql");

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
const SCHEMA_VERSION: &str = "2";

/// `PRAGMA auto_vacuum` value of incremental vacuuming.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;

/// Version 1 to 2: fingerprints, failures and leases on runs.
const MIGRATE_1_TO_2: &str = "
    ALTER TABLE sync_runs ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
    ALTER TABLE sync_runs ADD COLUMN failure TEXT;
    ALTER TABLE sync_runs ADD COLUMN holder TEXT;
    ALTER TABLE sync_runs ADD COLUMN heartbeat_ms INTEGER;
    UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

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
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn status_str(status: ResourceStatus) -> &'static str {
    match status {
        ResourceStatus::Enabled => "enabled",
        ResourceStatus::Disabled => "disabled",
        ResourceStatus::Deleted => "deleted",
    }
}

fn purpose_str(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Assignment => "assignment",
        Purpose::Permission => "permission",
    }
}

fn parse_resource_id(text: &str) -> Result<ResourceId, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored resource id: {e}")))
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::init(Connection::open(path).backend()?)
    }

    /// A store in memory (for tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().backend()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL").backend()?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .backend()?;
        conn.pragma_update(None, "busy_timeout", 5000).backend()?;
        // The write-ahead log is cut back to 64 MiB after a checkpoint: a large sync would
        // otherwise leave it at its largest size for good.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .backend()?;
        // 8 MiB of page cache, which also bounds the sorter that seals a run: the cache fills up
        // as a tenant grows, so its size is the store's share of a sync's peak memory. 32 MiB
        // cost 50 MiB more peak RSS at 300 k users and was not faster (docs/store.md).
        conn.pragma_update(None, "cache_size", -8192).backend()?;
        // Pages freed by deleting old runs go back to the file system (`delete_run` runs an
        // incremental vacuum). A new file takes the setting before its first table; an older
        // file is rebuilt once to take it.
        let auto_vacuum: i64 = conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .backend()?;
        if auto_vacuum != AUTO_VACUUM_INCREMENTAL {
            conn.pragma_update(None, "auto_vacuum", AUTO_VACUUM_INCREMENTAL)
                .backend()?;
            conn.execute_batch("VACUUM").backend()?;
        }
        // A version 1 file gets the new columns before the schema (with its new shape) is
        // applied; the version check below then sees 2.
        let v1: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'meta')",
                [],
                |r| r.get(0),
            )
            .and_then(|has_meta: bool| {
                if !has_meta {
                    return Ok(false);
                }
                conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'schema_version' AND value = '1')",
                    [],
                    |r| r.get(0),
                )
            }).backend()?;
        if v1 {
            conn.execute_batch(&format!("BEGIN; {MIGRATE_1_TO_2} COMMIT;"))
                .backend()?;
        }
        conn.execute_batch(SCHEMA).backend()?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .backend()?;
        match version.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                )
                .backend()?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::SchemaVersion {
                    found: other.to_owned(),
                    supported: SCHEMA_VERSION,
                });
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
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
        let conn = self.conn()?;
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

impl Store for SqliteStore {
    fn latest_run(&self, connector: &str) -> Result<Option<SyncRun>, StoreError> {
        let conn = self.conn()?;
        conn.query_row(
            &format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs WHERE connector = ?1 ORDER BY id DESC LIMIT 1"
            ),
            [connector],
            Self::read_run,
        )
        .optional()
        .backend()?
        .map(Self::to_run)
        .transpose()
    }

    fn integrity_issues(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<(u64, Vec<IntegrityIssue>), StoreError> {
        let conn = self.conn()?;
        // Two ordered scans, each joining a table in its own key order: entitlements along
        // `grants`, resources along `grants_by_principal`.
        let by_entitlement =
            "SELECT g.entitlement_type, g.entitlement_id, g.slug, g.principal_type,
                    g.principal_id, e.grantable_to IS NULL
             FROM grants g
             LEFT JOIN entitlements e
               ON e.run_id = g.run_id AND e.resource_type = g.entitlement_type
              AND e.resource_id = g.entitlement_id AND e.slug = g.slug
             WHERE g.run_id = ?1
               AND (e.grantable_to IS NULL
                    OR instr(e.grantable_to, ',' || g.principal_type || ',') = 0)";
        let by_principal = "SELECT p.entitlement_type, p.entitlement_id, p.slug, p.principal_type,
                    p.principal_id, 2
             FROM grants_by_principal p
             WHERE p.run_id = ?1
               AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.run_id = p.run_id
                               AND r.resource_type = p.principal_type
                               AND r.resource_id = p.principal_id)";
        let mut count = 0u64;
        let mut first = Vec::new();
        for sql in [by_entitlement, by_principal] {
            let mut stmt = conn.prepare(sql).backend()?;
            let mut rows = stmt.query([run.0]).backend()?;
            let mut taken = 0;
            while let Some(r) = rows.next().backend()? {
                count += 1;
                if taken == limit {
                    continue;
                }
                taken += 1;
                let kind = match r.get::<_, i64>(5).backend()? {
                    0 => IntegrityKind::NotGrantable,
                    1 => IntegrityKind::MissingEntitlement,
                    _ => IntegrityKind::MissingPrincipal,
                };
                let grant = GrantId {
                    entitlement: EntitlementId::new(
                        ResourceId::new(
                            r.get::<_, String>(0).backend()?.as_str(),
                            r.get::<_, String>(1).backend()?,
                        ),
                        r.get::<_, String>(2).backend()?,
                    ),
                    principal: ResourceId::new(
                        r.get::<_, String>(3).backend()?.as_str(),
                        r.get::<_, String>(4).backend()?,
                    ),
                };
                first.push(IntegrityIssue { grant, kind });
            }
        }
        first.sort();
        first.truncate(limit);
        Ok((count, first))
    }

    fn delete_run(&self, run: RunId) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().backend()?;
        Self::check_run(&tx, run)?;
        for table in [
            "resource_types",
            "resources",
            "entitlements",
            "grants",
            "grants_by_principal",
            "warnings",
            "work",
            "page_tokens",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE run_id = ?1"), [run.0])
                .backend()?;
        }
        tx.execute("DELETE FROM sync_runs WHERE id = ?1", [run.0])
            .backend()?;
        tx.commit().backend()?;
        // Gives the freed pages back to the file system.
        conn.execute_batch("PRAGMA incremental_vacuum").backend()?;
        Ok(())
    }

    fn runs(&self) -> Result<Vec<SyncRun>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM sync_runs ORDER BY id"))
            .backend()?;
        let rows = stmt.query_map([], Self::read_run).backend()?;
        rows.map(|r| Self::to_run(r.backend()?)).collect()
    }

    fn resource_types(&self, run: RunId) -> Result<Vec<ResourceType>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT data FROM resource_types WHERE run_id = ?1 ORDER BY id")
            .backend()?;
        let rows = stmt
            .query_map([run.0], |r| r.get::<_, String>(0))
            .backend()?;
        rows.map(|json| serde_json::from_str(&json.backend()?).backend())
            .collect()
    }

    fn resources_page(
        &self,
        run: RunId,
        resource_type: &ResourceTypeId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Resource>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT data FROM resources
             WHERE run_id = ?1 AND resource_type = ?2 AND (?3 IS NULL OR resource_id > ?3)
             ORDER BY resource_id LIMIT ?4",
            )
            .backend()?;
        let rows = stmt
            .query_map(
                params![
                    run.0,
                    resource_type.as_str(),
                    after,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| r.get::<_, String>(0),
            )
            .backend()?;
        rows.map(|json| serde_json::from_str(&json.backend()?).backend())
            .collect()
    }

    fn resource(&self, run: RunId, id: &ResourceId) -> Result<Option<Resource>, StoreError> {
        let conn = self.conn()?;
        let json: Option<String> = conn
            .query_row(
                "SELECT data FROM resources WHERE run_id = ?1 AND resource_type = ?2 AND resource_id = ?3",
                params![run.0, id.resource_type.as_str(), id.id],
                |r| r.get(0),
            )
            .optional().backend()?;
        json.map(|j| serde_json::from_str(&j)).transpose().backend()
    }

    fn entitlements(
        &self,
        run: RunId,
        resource: &ResourceId,
    ) -> Result<Vec<Entitlement>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT data FROM entitlements WHERE run_id = ?1 AND resource_type = ?2 AND resource_id = ?3
             ORDER BY slug",
        ).backend()?;
        let rows = stmt
            .query_map(
                params![run.0, resource.resource_type.as_str(), resource.id],
                |r| r.get::<_, String>(0),
            )
            .backend()?;
        rows.map(|json| serde_json::from_str(&json.backend()?).backend())
            .collect()
    }

    fn grants_for_principal(
        &self,
        run: RunId,
        principal: &ResourceId,
    ) -> Result<Vec<Grant>, StoreError> {
        self.grants_query(
            "SELECT entitlement_type, entitlement_id, slug, principal_type, principal_id, annotations
             FROM grants_by_principal
             WHERE run_id = ?1 AND principal_type = ?2 AND principal_id = ?3
             ORDER BY entitlement_type, entitlement_id, slug",
            params![run.0, principal.resource_type.as_str(), principal.id],
        )
    }

    fn entitlements_page(
        &self,
        run: RunId,
        after: Option<&EntitlementId>,
        limit: usize,
    ) -> Result<Vec<Entitlement>, StoreError> {
        let conn = self.conn()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<String> = match after {
            None => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT data FROM entitlements WHERE run_id = ?1
                     ORDER BY resource_type, resource_id, slug LIMIT ?2",
                    )
                    .backend()?;
                stmt.query_map(params![run.0, limit], |r| r.get(0))
                    .backend()?
                    .collect::<rusqlite::Result<_>>()
                    .backend()?
            }
            Some(e) => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT data FROM entitlements WHERE run_id = ?1
                       AND (resource_type, resource_id, slug) > (?2, ?3, ?4)
                     ORDER BY resource_type, resource_id, slug LIMIT ?5",
                    )
                    .backend()?;
                stmt.query_map(
                    params![
                        run.0,
                        e.resource.resource_type.as_str(),
                        e.resource.id,
                        e.slug,
                        limit
                    ],
                    |r| r.get(0),
                )
                .backend()?
                .collect::<rusqlite::Result<_>>()
                .backend()?
            }
        };
        rows.iter()
            .map(|json| serde_json::from_str(json).backend())
            .collect()
    }

    fn grants_page(
        &self,
        run: RunId,
        after: Option<&Grant>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match after {
            None => self.grants_query(
                "SELECT entitlement_type, entitlement_id, slug, principal_type, principal_id,
                        annotations
                 FROM grants WHERE run_id = ?1
                 ORDER BY entitlement_type, entitlement_id, slug, principal_type, principal_id
                 LIMIT ?2",
                params![run.0, limit],
            ),
            Some(g) => self.grants_query(
                "SELECT entitlement_type, entitlement_id, slug, principal_type, principal_id,
                        annotations
                 FROM grants WHERE run_id = ?1
                   AND (entitlement_type, entitlement_id, slug, principal_type, principal_id)
                       > (?2, ?3, ?4, ?5, ?6)
                 ORDER BY entitlement_type, entitlement_id, slug, principal_type, principal_id
                 LIMIT ?7",
                params![
                    run.0,
                    g.entitlement.resource.resource_type.as_str(),
                    g.entitlement.resource.id,
                    g.entitlement.slug,
                    g.principal.resource_type.as_str(),
                    g.principal.id,
                    limit
                ],
            ),
        }
    }

    fn grants_for_entitlement(
        &self,
        run: RunId,
        entitlement: &EntitlementId,
    ) -> Result<Vec<Grant>, StoreError> {
        self.grants_query(
            "SELECT entitlement_type, entitlement_id, slug, principal_type, principal_id, annotations
             FROM grants WHERE run_id = ?1 AND entitlement_type = ?2 AND entitlement_id = ?3
               AND slug = ?4
             ORDER BY principal_type, principal_id",
            params![
                run.0,
                entitlement.resource.resource_type.as_str(),
                entitlement.resource.id,
                entitlement.slug
            ],
        )
    }

    fn warnings(&self, run: RunId) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT message FROM warnings WHERE run_id = ?1 ORDER BY id")
            .backend()?;
        let rows = stmt
            .query_map([run.0], |r| r.get::<_, String>(0))
            .backend()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().backend()
    }

    fn counts(&self, run: RunId) -> Result<RunCounts, StoreError> {
        let conn = self.conn()?;
        Self::check_run(&conn, run)?;
        let mut counts = RunCounts::default();
        for (sql, map) in [
            (
                "SELECT resource_type, COUNT(*) FROM resources WHERE run_id = ?1 GROUP BY resource_type",
                &mut counts.resources,
            ),
            (
                "SELECT resource_type, COUNT(*) FROM entitlements WHERE run_id = ?1 GROUP BY resource_type",
                &mut counts.entitlements,
            ),
            (
                "SELECT entitlement_type, COUNT(*) FROM grants WHERE run_id = ?1 GROUP BY entitlement_type",
                &mut counts.grants,
            ),
        ] {
            let mut stmt = conn.prepare(sql).backend()?;
            let rows = stmt
                .query_map([run.0], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .backend()?;
            for row in rows {
                let (t, n) = row.backend()?;
                map.insert(ResourceTypeId::new(t), n.unsigned_abs());
            }
        }
        Ok(counts)
    }

    fn diff(&self, old: RunId, new: RunId) -> Result<SyncDiff, StoreError> {
        let conn = self.conn()?;
        Self::check_run(&conn, old)?;
        Self::check_run(&conn, new)?;
        let resources = "SELECT resource_type, resource_id FROM resources WHERE run_id = ?1
             EXCEPT SELECT resource_type, resource_id FROM resources WHERE run_id = ?2
             ORDER BY 1, 2";
        let entitlements =
            "SELECT resource_type, resource_id, slug FROM entitlements WHERE run_id = ?1
             EXCEPT SELECT resource_type, resource_id, slug FROM entitlements WHERE run_id = ?2
             ORDER BY 1, 2, 3";
        let grants = "SELECT entitlement_type, entitlement_id, slug, principal_type, principal_id
             FROM grants WHERE run_id = ?1
             EXCEPT SELECT entitlement_type, entitlement_id, slug, principal_type, principal_id
             FROM grants WHERE run_id = ?2
             ORDER BY 1, 2, 3, 4, 5";
        let to_resource = |v: Vec<String>| ResourceId::new(v[0].as_str(), v[1].clone());
        let to_entitlement = |v: Vec<String>| {
            EntitlementId::new(ResourceId::new(v[0].as_str(), v[1].clone()), v[2].clone())
        };
        let to_grant = |v: Vec<String>| GrantId {
            entitlement: EntitlementId::new(
                ResourceId::new(v[0].as_str(), v[1].clone()),
                v[2].clone(),
            ),
            principal: ResourceId::new(v[3].as_str(), v[4].clone()),
        };
        Ok(SyncDiff {
            added_resources: Self::id_diff(&conn, resources, new, old, 2)?
                .into_iter()
                .map(to_resource)
                .collect(),
            removed_resources: Self::id_diff(&conn, resources, old, new, 2)?
                .into_iter()
                .map(to_resource)
                .collect(),
            added_entitlements: Self::id_diff(&conn, entitlements, new, old, 3)?
                .into_iter()
                .map(to_entitlement)
                .collect(),
            removed_entitlements: Self::id_diff(&conn, entitlements, old, new, 3)?
                .into_iter()
                .map(to_entitlement)
                .collect(),
            added_grants: Self::id_diff(&conn, grants, new, old, 5)?
                .into_iter()
                .map(to_grant)
                .collect(),
            removed_grants: Self::id_diff(&conn, grants, old, new, 5)?
                .into_iter()
                .map(to_grant)
                .collect(),
        })
    }
}

impl WorkQueue for SqliteStore {
    fn begin_run(&self, begin: &BeginRun<'_>) -> Result<Begun, StoreError> {
        let mut conn = self.conn()?;
        // IMMEDIATE: the read and the write below are one step for every process on the file.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .backend()?;
        let open: Vec<OpenRun> = {
            let mut stmt = tx
                .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs WHERE connector = ?1 AND status = 'running'
                 ORDER BY id"
            ))
                .backend()?;
            let rows = stmt
                .query_map([begin.connector], Self::read_run)
                .backend()?;
            let mut open = Vec::new();
            for row in rows {
                let run = Self::to_run(row.backend()?)?;
                open.push(OpenRun {
                    id: run.id,
                    fingerprint: run.fingerprint,
                    started_at_ms: run.started_at_ms,
                    holder: run.holder,
                    heartbeat_ms: run.heartbeat_ms,
                });
            }
            open
        };
        let now = now_ms();
        let holder = serde_json::to_string(begin.holder).backend()?;
        let begun = match lease::decide(&open, begin, now) {
            Decision::InProgress {
                run,
                holder,
                heartbeat_ms,
            } => {
                return Err(StoreError::InProgress {
                    run,
                    holder,
                    heartbeat_ms,
                });
            }
            Decision::Resume { run, fail } => {
                Self::fail_runs(&tx, &fail)?;
                tx.execute(
                    "UPDATE sync_runs SET holder = ?2, heartbeat_ms = ?3 WHERE id = ?1",
                    params![run.0, holder, now],
                )
                .backend()?;
                tx.execute("UPDATE work SET claimed = 0 WHERE run_id = ?1", [run.0])
                    .backend()?;
                Begun {
                    run,
                    resumed: true,
                    not_resumed: None,
                }
            }
            Decision::Start { fail, not_resumed } => {
                Self::fail_runs(&tx, &fail)?;
                tx.execute(
                    "INSERT INTO sync_runs (connector, started_at_ms, status, fingerprint, holder,
                     heartbeat_ms) VALUES (?1, ?2, 'running', ?3, ?4, ?2)",
                    params![begin.connector, now, begin.fingerprint, holder],
                )
                .backend()?;
                let run = RunId(tx.last_insert_rowid());
                {
                    let mut stmt = tx
                        .prepare(
                            "INSERT INTO resource_types (run_id, id, display_name, data)
                         VALUES (?1, ?2, ?3, ?4)",
                        )
                        .backend()?;
                    for rt in begin.resource_types {
                        stmt.execute(params![
                            run.0,
                            rt.id.as_str(),
                            rt.display_name,
                            serde_json::to_string(rt).backend()?
                        ])
                        .backend()?;
                    }
                }
                Self::insert_work(&tx, run, begin.work)?;
                Begun {
                    run,
                    resumed: false,
                    not_resumed,
                }
            }
        };
        tx.commit().backend()?;
        Ok(begun)
    }

    fn heartbeat(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        self.leased(run, lease, |tx| {
            tx.execute(
                "UPDATE sync_runs SET heartbeat_ms = ?2 WHERE id = ?1",
                params![run.0, now_ms()],
            )
            .backend()?;
            Ok(())
        })
    }

    fn release_run(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        self.leased(run, lease, |tx| {
            tx.execute(
                "UPDATE sync_runs SET holder = NULL, heartbeat_ms = NULL WHERE id = ?1",
                [run.0],
            )
            .backend()?;
            tx.execute("UPDATE work SET claimed = 0 WHERE run_id = ?1", [run.0])
                .backend()?;
            Ok(())
        })
    }

    fn claim_work(
        &self,
        run: RunId,
        lease: &str,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.leased(run, lease, |tx| {
            let stage: Option<i64> = tx
                .query_row(
                    "SELECT MIN(stage) FROM work WHERE run_id = ?1",
                    [run.0],
                    |r| r.get(0),
                )
                .backend()?;
            let Some(stage) = stage else {
                return Ok(Vec::new());
            };
            let mut items = Vec::new();
            {
                let mut select = tx
                    .prepare_cached(
                        "SELECT id, kind, resource_type, scope, token FROM work
                 WHERE run_id = ?1 AND stage = ?2 AND claimed = 0 ORDER BY id LIMIT ?3",
                    )
                    .backend()?;
                let rows = select
                    .query_map(
                        params![run.0, stage, i64::try_from(limit).unwrap_or(i64::MAX)],
                        |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, Option<String>>(3)?,
                                r.get::<_, Option<String>>(4)?,
                            ))
                        },
                    )
                    .backend()?;
                for row in rows {
                    let (id, tag, resource_type, scope, token) = row.backend()?;
                    let resource_type: ResourceTypeId = resource_type
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("work resource type: {e}")))?;
                    let scope = scope.as_deref().map(parse_resource_id).transpose()?;
                    let kind =
                        WorkKind::from_parts(&tag, resource_type, scope).ok_or_else(|| {
                            StoreError::Corrupt(format!("work item {id} kind {tag:?}"))
                        })?;
                    items.push(WorkItem {
                        id: WorkId(id),
                        kind,
                        token: token.map(PageToken::new),
                    });
                }
                let mut claim = tx
                    .prepare_cached("UPDATE work SET claimed = 1 WHERE id = ?1")
                    .backend()?;
                for item in &items {
                    claim.execute([item.id.0]).backend()?;
                }
            }
            Ok(items)
        })
    }

    fn commit_page(&self, run: RunId, lease: &str, commit: &PageCommit) -> Result<(), StoreError> {
        self.leased(run, lease, |tx| {
        Self::insert_work(tx, run, &commit.work)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO resources
                 (run_id, resource_type, resource_id, parent, display_name, status, login, email, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            ).backend()?;
            for r in &commit.resources {
                let user = r.user.as_ref();
                let email = user.and_then(|u| {
                    u.emails
                        .iter()
                        .find(|e| e.primary)
                        .or(u.emails.first())
                        .map(|e| e.address.as_str())
                });
                stmt.execute(params![
                    run.0,
                    r.id.resource_type.as_str(),
                    r.id.id,
                    r.parent.as_ref().map(ToString::to_string),
                    r.display_name,
                    r.status.map(status_str),
                    user.and_then(|u| u.login.as_deref()),
                    email,
                    serde_json::to_string(r).backend()?
                ])
                .backend()?;
            }
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO entitlements
                 (run_id, resource_type, resource_id, slug, display_name, purpose, grantable_to, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            ).backend()?;
            for e in &commit.entitlements {
                let mut grantable_to = String::from(",");
                for t in &e.grantable_to {
                    grantable_to.push_str(&t.to_string());
                    grantable_to.push(',');
                }
                stmt.execute(params![
                    run.0,
                    e.id.resource.resource_type.as_str(),
                    e.id.resource.id,
                    e.id.slug,
                    e.display_name,
                    purpose_str(e.purpose),
                    grantable_to,
                    serde_json::to_string(e).backend()?
                ])
                .backend()?;
            }
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO grants_by_principal
                 (run_id, principal_type, principal_id, entitlement_type, entitlement_id, slug, annotations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            ).backend()?;
            for g in &commit.grants {
                let annotations = if g.annotations.is_empty() {
                    None
                } else {
                    Some(serde_json::to_string(&g.annotations).backend()?)
                };
                stmt.execute(params![
                    run.0,
                    g.principal.resource_type.as_str(),
                    g.principal.id,
                    g.entitlement.resource.resource_type.as_str(),
                    g.entitlement.resource.id,
                    g.entitlement.slug,
                    annotations
                ])
                .backend()?;
            }
        }
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO warnings (run_id, message) VALUES (?1, ?2)")
                .backend()?;
            for w in &commit.warnings {
                stmt.execute(params![run.0, w]).backend()?;
            }
        }
        if let Some(done) = commit.done {
            tx.execute(
                "DELETE FROM work WHERE id = ?1 AND run_id = ?2",
                params![done.0, run.0],
            )
            .backend()?;
        }
        Ok(())
        })
    }

    fn seal_run(&self, run: RunId) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().backend()?;
        Self::check_run(&tx, run)?;
        tx.execute("DELETE FROM grants WHERE run_id = ?1", [run.0])
            .backend()?;
        tx.execute(
            "INSERT INTO grants
             (run_id, entitlement_type, entitlement_id, slug, principal_type, principal_id, annotations)
             SELECT run_id, entitlement_type, entitlement_id, slug, principal_type, principal_id,
                    annotations
             FROM grants_by_principal WHERE run_id = ?1
             ORDER BY entitlement_type, entitlement_id, slug, principal_type, principal_id",
            [run.0],
        ).backend()?;
        tx.commit().backend()?;
        Ok(())
    }

    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().backend()?;
        Self::check_run(&tx, run)?;
        tx.execute(
            "UPDATE sync_runs SET status = ?2, finished_at_ms = ?3, failure = ?4, holder = NULL,
             heartbeat_ms = NULL WHERE id = ?1",
            params![run.0, status.as_str(), now_ms(), failure],
        )
        .backend()?;
        tx.execute("DELETE FROM work WHERE run_id = ?1", [run.0])
            .backend()?;
        tx.execute("DELETE FROM page_tokens WHERE run_id = ?1", [run.0])
            .backend()?;
        tx.commit().backend()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_file_is_migrated() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1');
             CREATE TABLE sync_runs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, connector TEXT NOT NULL,
                 started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER, status TEXT NOT NULL);
             INSERT INTO sync_runs (connector, started_at_ms, status) VALUES ('c', 5, 'running');",
        )
        .unwrap();
        let store = SqliteStore::init(conn).unwrap();
        let runs = store.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].fingerprint.as_str(), runs[0].holder.as_ref()),
            ("", None)
        );
        // A version 1 run has no fingerprint: a sync that has one starts afresh.
        let holder = Holder::current();
        let begun = store
            .begin_run(&BeginRun::new("c", "c|tenant", &holder))
            .unwrap();
        assert!(!begun.resumed);
        assert_eq!(store.runs().unwrap()[0].status, RunStatus::Failed);
    }
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn a_file_from_another_schema_version_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            matches!(&err, StoreError::SchemaVersion { found, supported: "2" } if found == "99"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the store's schema version is 99; this build reads version 2"
        );
    }
}
