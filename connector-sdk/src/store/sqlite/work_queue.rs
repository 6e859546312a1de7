//! The engine's protocol ([`WorkQueue`]): beginning and resuming runs, leases, claiming work,
//! committing pages, sealing and finishing.

use super::*;
use crate::store::columns;

impl WorkQueue for SqliteStore {
    fn learned(
        &self,
        connector: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        self.conn()?
            .query_row(
                "SELECT value, at_ms FROM learned WHERE connector = ?1 AND fingerprint = ?2",
                params![connector, fingerprint],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .backend()
    }

    fn set_learned(
        &self,
        connector: &str,
        fingerprint: &str,
        learned: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "INSERT INTO learned (connector, fingerprint, value, at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (connector, fingerprint) DO UPDATE SET value = ?3, at_ms = ?4",
                params![connector, fingerprint, learned, at_ms],
            )
            .backend()?;
        Ok(())
    }

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
                    params![begin.connector, now, begin.fingerprint.encode(), holder],
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
                let email = columns::email(r);
                stmt.execute(params![
                    run.0,
                    r.id.resource_type.as_str(),
                    r.id.id,
                    r.parent.as_ref().map(ToString::to_string),
                    r.display_name,
                    r.status.map(columns::status),
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
                let grantable_to = columns::grantable_to(e);
                stmt.execute(params![
                    run.0,
                    e.id.resource.resource_type.as_str(),
                    e.id.resource.id,
                    e.id.slug,
                    e.display_name,
                    columns::purpose(e.purpose),
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
