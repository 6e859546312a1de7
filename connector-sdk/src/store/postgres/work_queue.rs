//! The engine's protocol ([`WorkQueue`]): beginning and resuming runs, leases, claiming work,
//! committing pages, sealing and finishing.
//!
//! Leases: the run's row in `sync_runs` holds its holder and heartbeat. Beginning a sync takes
//! an advisory lock per connector for its transaction, so two hosts never both start or take over
//! a run. A claim and a page commit are one statement each, every write in it conditional on the
//! caller holding the run (its row locked `FOR SHARE`, so claims and commits run side by side);
//! a heartbeat updates the row only for its holder; a release locks it `FOR UPDATE`. A host whose
//! run was taken over writes nothing. Work items are claimed with `FOR UPDATE SKIP LOCKED`.

use deadpool_postgres::Transaction;
use tokio_postgres::error::SqlState;

use super::page::{PageColumns, commit_sql, pending_table, pending_table_ddl, sealed_table};
use super::*;
use crate::capability::PageToken;
use crate::model::ResourceTypeId;
use crate::store::lease::{self, BeginRun, Begun, Decision, OpenRun};
use crate::store::{NewWork, PageCommit, Store, WorkId, WorkItem, WorkKind, WorkQueue, now_ms};

/// The first key of the advisory lock a beginning sync takes (the second is the connector's
/// hash).
const BEGIN_LOCK: i32 = 0x6364_6b01;

impl PostgresStore {
    /// Fails with [`StoreError::LeaseLost`] unless `lease` holds `run` (locking the run's row
    /// for the rest of a transaction), with [`StoreError::UnknownRun`] when there is no `run`.
    async fn check_lease(
        client: &impl deadpool_postgres::GenericClient,
        run: RunId,
        lease: &str,
    ) -> Result<(), StoreError> {
        let row = client
            .query_opt(
                "SELECT holder FROM sync_runs WHERE id = $1 FOR UPDATE",
                &[&run.0],
            )
            .await
            .backend()?;
        let Some(row) = row else {
            return Err(StoreError::UnknownRun(run));
        };
        let holder: Option<String> = row.try_get(0).backend()?;
        let holder: Option<Holder> = holder
            .map(|h| serde_json::from_str(&h))
            .transpose()
            .backend()?;
        match holder {
            Some(h) if h.id == lease => Ok(()),
            _ => Err(StoreError::LeaseLost(run)),
        }
    }

    async fn fail_runs(tx: &Transaction<'_>, fail: &[(RunId, String)]) -> Result<(), StoreError> {
        for (run, reason) in fail {
            tx.execute(
                "UPDATE sync_runs SET status = 'failed', failure = $2, finished_at_ms = $3,
                 holder = NULL, heartbeat_ms = NULL WHERE id = $1",
                &[&run.0, reason, &now_ms()],
            )
            .await
            .backend()?;
            tx.execute("DELETE FROM work WHERE run_id = $1", &[&run.0])
                .await
                .backend()?;
            tx.execute("DELETE FROM page_tokens WHERE run_id = $1", &[&run.0])
                .await
                .backend()?;
            Self::drop_pending(tx, *run).await?;
        }
        Ok(())
    }

    /// Drops the grants of a run that failed before it was sealed: no query reads them and no
    /// sync resumes the run, so they would only take space until the run is pruned.
    async fn drop_pending(tx: &Transaction<'_>, run: RunId) -> Result<(), StoreError> {
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", pending_table(run)))
            .await
            .backend()
    }

    async fn insert_work(
        tx: &Transaction<'_>,
        run: RunId,
        work: &[NewWork],
    ) -> Result<(), StoreError> {
        if work.is_empty() {
            return Ok(());
        }
        let (mut stages, mut kinds, mut types, mut scopes, mut tokens) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for item in work {
            let kind = &item.kind;
            stages.push(kind.stage().number());
            kinds.push(kind.tag());
            types.push(kind.resource_type().to_string());
            scopes.push(kind.scope().map(ToString::to_string));
            tokens.push(item.token.as_ref().map(|t| t.as_str().to_owned()));
        }
        // Every token once per listing: a token already handed out (or twice in this page) is
        // skipped by the insert, and so missing from what it returns.
        let (token_scopes, given): (Vec<usize>, Vec<&String>) = tokens
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i, t)))
            .unzip();
        if !given.is_empty() {
            let pick = |column: &dyn Fn(usize) -> String| -> Vec<String> {
                token_scopes.iter().map(|&i| column(i)).collect()
            };
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO page_tokens (run_id, kind, resource_type, scope, token)
                     SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[])
                     ON CONFLICT DO NOTHING RETURNING token",
                )
                .await
                .backend()?;
            let inserted = tx
                .query(
                    &stmt,
                    &[
                        &run.0,
                        &pick(&|i| kinds[i].to_owned()),
                        &pick(&|i| types[i].clone()),
                        &pick(&|i| scopes[i].clone().unwrap_or_default()),
                        &given,
                    ],
                )
                .await
                .backend()?;
            if inserted.len() < given.len() {
                let mut fresh: Vec<String> = inserted
                    .iter()
                    .map(|r| r.try_get(0).backend())
                    .collect::<Result<_, _>>()?;
                let repeated = given
                    .iter()
                    .find(|t| match fresh.iter().position(|f| f == **t) {
                        Some(at) => {
                            fresh.swap_remove(at);
                            false
                        }
                        None => true,
                    });
                return Err(StoreError::TokenRepeated {
                    token: repeated.map_or_else(String::new, |t| (*t).clone()),
                });
            }
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO work (run_id, stage, kind, resource_type, scope, token)
                 SELECT $1, s, k, t, sc, tk
                 FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[])
                      WITH ORDINALITY AS w(s, k, t, sc, tk, n)
                 ORDER BY n",
            )
            .await
            .backend()?;
        tx.execute(&stmt, &[&run.0, &stages, &kinds, &types, &scopes, &tokens])
            .await
            .backend()?;
        Ok(())
    }

    /// Runs `body` in one transaction once `lease` is found to hold `run`, and commits.
    async fn leased<T>(
        &self,
        run: RunId,
        lease: &str,
        body: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.backend()?;
        Self::check_lease(&tx, run, lease).await?;
        let value = body(&tx).await?;
        tx.commit().await.backend()?;
        Ok(value)
    }
}

impl WorkQueue for PostgresStore {
    fn learned(
        &self,
        connector: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        self.block_on(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT value, at_ms FROM learned WHERE connector = $1 AND fingerprint = $2",
                    &[&connector, &fingerprint],
                )
                .await
                .backend()?;
            row.map(|r| Ok((r.try_get(0).backend()?, r.try_get(1).backend()?)))
                .transpose()
        })
    }

    fn set_learned(
        &self,
        connector: &str,
        fingerprint: &str,
        learned: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.block_on(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO learned (connector, fingerprint, value, at_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (connector, fingerprint)
                     DO UPDATE SET value = EXCLUDED.value, at_ms = EXCLUDED.at_ms",
                    &[&connector, &fingerprint, &learned, &at_ms],
                )
                .await
                .backend()?;
            Ok(())
        })
    }

    fn begin_run(&self, begin: &BeginRun<'_>) -> Result<Begun, StoreError> {
        let holder = serde_json::to_string(begin.holder).backend()?;
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.backend()?;
            // One beginning sync per connector at a time, on every host.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&BEGIN_LOCK, &begin.connector],
            )
            .await
            .backend()?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM sync_runs
                         WHERE connector = $1 AND status = 'running' ORDER BY id FOR UPDATE"
                    ),
                    &[&begin.connector],
                )
                .await
                .backend()?;
            let mut open = Vec::new();
            for row in &rows {
                let run = to_run(row)?;
                open.push(OpenRun {
                    id: run.id,
                    fingerprint: run.fingerprint,
                    started_at_ms: run.started_at_ms,
                    holder: run.holder,
                    heartbeat_ms: run.heartbeat_ms,
                });
            }
            let open = lease::in_scope(open, begin, self.many_tenants());
            let now = now_ms();
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
                    Self::fail_runs(&tx, &fail).await?;
                    tx.execute(
                        "UPDATE sync_runs SET holder = $2, heartbeat_ms = $3 WHERE id = $1",
                        &[&run.0, &holder, &now],
                    )
                    .await
                    .backend()?;
                    tx.execute(
                        "UPDATE work SET claimed = FALSE WHERE run_id = $1",
                        &[&run.0],
                    )
                    .await
                    .backend()?;
                    Begun {
                        run,
                        resumed: true,
                        not_resumed: None,
                    }
                }
                Decision::Start { fail, not_resumed } => {
                    Self::fail_runs(&tx, &fail).await?;
                    let row = tx
                        .query_one(
                            "INSERT INTO sync_runs (connector, started_at_ms, status, fingerprint,
                             holder, heartbeat_ms) VALUES ($1, $2, 'running', $3, $4, $2)
                             RETURNING id",
                            &[&begin.connector, &now, &begin.fingerprint.encode(), &holder],
                        )
                        .await
                        .backend()?;
                    let run = RunId(row.try_get(0).backend()?);
                    tx.batch_execute(&pending_table_ddl(run)).await.backend()?;
                    for rt in begin.resource_types {
                        tx.execute(
                            "INSERT INTO resource_types (run_id, id, display_name, data)
                             VALUES ($1, $2, $3, $4)",
                            &[
                                &run.0,
                                &rt.id.as_str(),
                                &rt.display_name,
                                &serde_json::to_string(rt).backend()?,
                            ],
                        )
                        .await
                        .backend()?;
                    }
                    Self::insert_work(&tx, run, begin.work).await?;
                    Begun {
                        run,
                        resumed: false,
                        not_resumed,
                    }
                }
            };
            tx.commit().await.backend()?;
            Ok(begun)
        })
    }

    fn heartbeat(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        self.block_on(async {
            let client = self.client().await?;
            let beat = client
                .execute(
                    "UPDATE sync_runs SET heartbeat_ms = $3
                     WHERE id = $1 AND holder::jsonb ->> 'id' = $2",
                    &[&run.0, &lease, &now_ms()],
                )
                .await
                .backend()?;
            match beat {
                0 => Self::check_lease(&client, run, lease)
                    .await
                    .and(Err(StoreError::LeaseLost(run))),
                _ => Ok(()),
            }
        })
    }

    fn release_run(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        self.block_on(self.leased(run, lease, async |tx| {
            tx.execute(
                "UPDATE sync_runs SET holder = NULL, heartbeat_ms = NULL WHERE id = $1",
                &[&run.0],
            )
            .await
            .backend()?;
            tx.execute(
                "UPDATE work SET claimed = FALSE WHERE run_id = $1",
                &[&run.0],
            )
            .await
            .backend()?;
            Ok(())
        }))
    }

    fn claim_work(
        &self,
        run: RunId,
        lease: &str,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.block_on(async {
            let client = self.client().await?;
            // One statement: the lease (the run's row shared-locked), the lowest stage with
            // work left, and its first unclaimed items, which other claimers skip.
            let stmt = client
                .prepare_cached(
                    "WITH held AS (
                         SELECT id FROM sync_runs
                         WHERE id = $1 AND holder::jsonb ->> 'id' = $2 FOR SHARE),
                     next AS (SELECT MIN(stage) AS stage FROM work WHERE run_id = $1),
                     picked AS (
                         SELECT w.id FROM work w, next
                         WHERE EXISTS (SELECT 1 FROM held) AND w.run_id = $1
                           AND w.stage = next.stage AND NOT w.claimed
                         ORDER BY w.id LIMIT $3 FOR UPDATE OF w SKIP LOCKED)
                     UPDATE work SET claimed = TRUE FROM picked WHERE work.id = picked.id
                     RETURNING work.id, work.kind, work.resource_type, work.scope, work.token",
                )
                .await
                .backend()?;
            let rows = client
                .query(&stmt, &[&run.0, &lease, &super::limit(limit)])
                .await
                .backend()?;
            if rows.is_empty() {
                // Nothing claimable, or not ours to claim: which one?
                Self::check_lease(&client, run, lease).await?;
            }
            let mut items = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: i64 = r.try_get(0).backend()?;
                let tag: String = r.try_get(1).backend()?;
                let resource_type: ResourceTypeId = r
                    .try_get::<_, String>(2)
                    .backend()?
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("work resource type: {e}")))?;
                let scope = r
                    .try_get::<_, Option<String>>(3)
                    .backend()?
                    .map(|s| {
                        s.parse::<ResourceId>()
                            .map_err(|e| StoreError::Corrupt(format!("stored resource id: {e}")))
                    })
                    .transpose()?;
                let kind = WorkKind::from_parts(&tag, resource_type, scope)
                    .ok_or_else(|| StoreError::Corrupt(format!("work item {id} kind {tag:?}")))?;
                items.push(WorkItem {
                    id: WorkId(id),
                    kind,
                    token: r
                        .try_get::<_, Option<String>>(4)
                        .backend()?
                        .map(PageToken::new),
                });
            }
            items.sort_by_key(|i| i.id);
            Ok(items)
        })
    }

    fn commit_page(&self, run: RunId, lease: &str, commit: &PageCommit) -> Result<(), StoreError> {
        let page = PageColumns::new(commit)?;
        if let Some(token) = page.repeated_token() {
            return Err(StoreError::TokenRepeated { token });
        }
        self.block_on(async {
            let client = self.client().await?;
            // The whole page is one statement, so one round trip and atomic: every write is
            // conditional on the lease, and a page token handed out before breaks the unique key
            // of `page_tokens`, failing the statement.
            let stmt = client
                .prepare_cached(&commit_sql(run, !commit.grants.is_empty()))
                .await
                .backend()?;
            let [rt, rid, parent, rname, status, login, email, rdata] = &page.resources;
            let [et, eid, slug, ename, purpose, grantable, edata] = &page.entitlements;
            let [gt, gid, gslug, pt, pid] = &page.grants;
            let done = commit.done.map(|d| d.0);
            let held = client
                .query_one(
                    &stmt,
                    &[
                        &run.0,
                        &lease,
                        &page.token_kinds,
                        &page.token_types,
                        &page.token_scopes,
                        &page.tokens,
                        &page.stages,
                        &page.kinds,
                        &page.types,
                        &page.scopes,
                        &page.work_tokens,
                        rt,
                        rid,
                        parent,
                        rname,
                        status,
                        login,
                        email,
                        rdata,
                        et,
                        eid,
                        slug,
                        ename,
                        purpose,
                        grantable,
                        edata,
                        gt,
                        gid,
                        gslug,
                        pt,
                        pid,
                        &page.annotations,
                        &commit.warnings,
                        &done,
                        &page.keys,
                    ],
                )
                .await;
            let held: bool = match held {
                Ok(row) => row.try_get(0).backend()?,
                Err(e)
                    if e.as_db_error().and_then(|d| d.constraint()) == Some("page_tokens_pkey") =>
                {
                    let known = client
                        .query(
                            "SELECT token FROM page_tokens WHERE run_id = $1 AND token = ANY($2)",
                            &[&run.0, &page.tokens],
                        )
                        .await
                        .backend()?;
                    let token = known
                        .first()
                        .map(|r| r.try_get::<_, String>(0))
                        .transpose()
                        .backend()?
                        .unwrap_or_default();
                    return Err(StoreError::TokenRepeated { token });
                }
                Err(e) => return Err(e).backend(),
            };
            if held {
                Ok(())
            } else {
                Self::check_lease(&client, run, lease)
                    .await
                    .and(Err(StoreError::LeaseLost(run)))
            }
        })
    }

    fn seal_run(&self, run: RunId) -> Result<(), StoreError> {
        self.block_on(async {
            let mut client = self.client().await?;
            let mut tx = client.transaction().await.backend()?;
            Self::check_run(&tx, run).await?;
            let pending: bool = tx
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&pending_table(run)])
                .await
                .backend()?
                .try_get(0)
                .backend()?;
            if !pending {
                // Sealed already (or a run that never had a pending table): nothing to build.
                return Ok(());
            }
            let (sealed, pending) = (sealed_table(run), pending_table(run));
            // The pending table becomes the run's partition: its two indexes are built from all
            // its rows at once (sorting in memory, hence the larger budget), far cheaper than
            // keeping them up to date row by row as pages arrive.
            tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")
                .await
                .backend()?;
            let key = format!(
                "ALTER TABLE {pending} ADD CONSTRAINT {sealed}_pkey
                     PRIMARY KEY (run_id, entitlement_key)"
            );
            let first = tx.savepoint("key").await.backend()?;
            match first.batch_execute(&key).await {
                Ok(()) => first.commit().await.backend()?,
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    // A grant stored twice (two listings gave it): keep its first copy.
                    first.rollback().await.backend()?;
                    tx.batch_execute(&format!(
                        "DELETE FROM {pending} WHERE ctid IN (
                             SELECT ctid FROM (
                                 SELECT ctid, row_number() OVER (
                                     PARTITION BY entitlement_key ORDER BY ctid) AS n
                                 FROM {pending}) AS copies
                             WHERE n > 1);
                         {key};"
                    ))
                    .await
                    .backend()?;
                }
                Err(e) => return Err(e).backend(),
            }
            tx.batch_execute(&format!(
                "CREATE INDEX {sealed}_by_principal ON {pending}
                     (run_id, principal_type, principal_id);
                 ALTER TABLE {pending} RENAME TO {sealed};
                 ALTER TABLE grants ATTACH PARTITION {sealed} FOR VALUES IN ({run});",
                run = run.0
            ))
            .await
            .backend()?;
            tx.commit().await.backend()?;
            // The planner's statistics, and the visibility map that lets the integrity check
            // and the keyset pages read the indexes alone (VACUUM runs outside a transaction).
            client
                .batch_execute(&format!("VACUUM (ANALYZE) {sealed}"))
                .await
                .backend()
        })
    }

    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.backend()?;
            Self::check_run(&tx, run).await?;
            tx.execute(
                "UPDATE sync_runs SET status = $2, finished_at_ms = $3, failure = $4,
                 holder = NULL, heartbeat_ms = NULL WHERE id = $1",
                &[&run.0, &status.as_str(), &now_ms(), &failure],
            )
            .await
            .backend()?;
            tx.execute("DELETE FROM work WHERE run_id = $1", &[&run.0])
                .await
                .backend()?;
            tx.execute("DELETE FROM page_tokens WHERE run_id = $1", &[&run.0])
                .await
                .backend()?;
            if status == RunStatus::Failed {
                Self::drop_pending(&tx, run).await?;
            }
            tx.commit().await.backend()
        })
    }
}
