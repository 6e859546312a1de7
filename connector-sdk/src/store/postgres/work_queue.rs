//! The engine's protocol ([`WorkQueue`]): beginning and resuming runs, leases, claiming work,
//! committing pages, sealing and finishing.
//!
//! Leases: the run's row in `sync_runs` holds its holder and heartbeat. Beginning a sync takes
//! an advisory lock per connector for its transaction, so two hosts never both start or take over
//! a run; every call of a holder locks the run's row (`FOR SHARE` for claims and commits, which
//! may run side by side; `FOR UPDATE` for heartbeats and releases) and checks the holder first,
//! so a host whose run was taken over writes nothing. Work items are claimed with
//! `FOR UPDATE SKIP LOCKED`.

use std::collections::HashMap;

use deadpool_postgres::Transaction;

use super::*;
use crate::capability::PageToken;
use crate::model::{Entitlement, Resource, ResourceTypeId};
use crate::store::columns;
use crate::store::lease::{self, BeginRun, Begun, Decision, OpenRun};
use crate::store::{NewWork, PageCommit, Store, WorkId, WorkItem, WorkKind, WorkQueue, now_ms};

/// The first key of the advisory lock a beginning sync takes (the second is the connector's
/// hash).
const BEGIN_LOCK: i32 = 0x6364_6b01;

/// How a holder locks its run's row.
#[derive(Clone, Copy)]
enum Hold {
    /// Claims and page commits: side by side with each other.
    Share,
    /// Heartbeats and releases, which update the row.
    Update,
}

impl PostgresStore {
    /// Fails with [`StoreError::LeaseLost`] unless `lease` holds `run`, locking the run's row
    /// for the rest of `tx`.
    async fn check_lease(
        tx: &Transaction<'_>,
        run: RunId,
        lease: &str,
        hold: Hold,
    ) -> Result<(), StoreError> {
        let sql = match hold {
            Hold::Share => "SELECT holder FROM sync_runs WHERE id = $1 FOR SHARE",
            Hold::Update => "SELECT holder FROM sync_runs WHERE id = $1 FOR UPDATE",
        };
        let row = tx.query_opt(sql, &[&run.0]).await.backend()?;
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
        }
        Ok(())
    }

    async fn insert_work(
        tx: &Transaction<'_>,
        run: RunId,
        work: &[NewWork],
    ) -> Result<(), StoreError> {
        if work.is_empty() {
            return Ok(());
        }
        let token_stmt = tx
            .prepare_cached(
                "INSERT INTO page_tokens (run_id, kind, resource_type, scope, token)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .await
            .backend()?;
        let (mut stages, mut kinds, mut types, mut scopes, mut tokens) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for item in work {
            let kind = &item.kind;
            let scope = kind.scope().map(ToString::to_string);
            let resource_type = kind.resource_type().to_string();
            if let Some(token) = &item.token {
                let inserted = tx
                    .execute(
                        &token_stmt,
                        &[
                            &run.0,
                            &kind.tag(),
                            &resource_type,
                            &scope.as_deref().unwrap_or(""),
                            &token.as_str(),
                        ],
                    )
                    .await
                    .backend()?;
                if inserted == 0 {
                    return Err(StoreError::TokenRepeated {
                        token: token.as_str().to_owned(),
                    });
                }
            }
            stages.push(kind.stage().number());
            kinds.push(kind.tag());
            types.push(resource_type);
            scopes.push(scope);
            tokens.push(item.token.as_ref().map(|t| t.as_str().to_owned()));
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
        hold: Hold,
        body: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.backend()?;
        Self::check_lease(&tx, run, lease, hold).await?;
        let value = body(&tx).await?;
        tx.commit().await.backend()?;
        Ok(value)
    }
}

/// A page's resources as columns, the last of each id kept (as one `INSERT OR REPLACE` after
/// another would).
fn resource_columns(resources: &[Resource]) -> Result<[Vec<Option<String>>; 8], StoreError> {
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        last.insert((r.id.resource_type.as_str(), r.id.id.as_str()), i);
    }
    let mut columns: [Vec<Option<String>>; 8] = Default::default();
    for (i, r) in resources.iter().enumerate() {
        if last[&(r.id.resource_type.as_str(), r.id.id.as_str())] != i {
            continue;
        }
        let user = r.user.as_ref();
        let email = columns::email(r).map(str::to_owned);
        let values = [
            Some(r.id.resource_type.to_string()),
            Some(r.id.id.clone()),
            r.parent.as_ref().map(ToString::to_string),
            Some(r.display_name.clone()),
            r.status.map(|s| columns::status(s).to_owned()),
            user.and_then(|u| u.login.clone()),
            email,
            Some(serde_json::to_string(r).backend()?),
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    Ok(columns)
}

/// A page's entitlements as columns, the last of each id kept.
fn entitlement_columns(entitlements: &[Entitlement]) -> Result<[Vec<String>; 7], StoreError> {
    let mut last: HashMap<&crate::model::EntitlementId, usize> = HashMap::new();
    for (i, e) in entitlements.iter().enumerate() {
        last.insert(&e.id, i);
    }
    let mut columns: [Vec<String>; 7] = Default::default();
    for (i, e) in entitlements.iter().enumerate() {
        if last[&e.id] != i {
            continue;
        }
        let grantable_to = columns::grantable_to(e);
        let values = [
            e.id.resource.resource_type.to_string(),
            e.id.resource.id.clone(),
            e.id.slug.clone(),
            e.display_name.clone(),
            columns::purpose(e.purpose).to_owned(),
            grantable_to,
            serde_json::to_string(e).backend()?,
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    Ok(columns)
}

impl WorkQueue for PostgresStore {
    fn learned(
        &self,
        connector: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        block_on(async {
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
        block_on(async {
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
        block_on(async {
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
        block_on(self.leased(run, lease, Hold::Update, async |tx| {
            tx.execute(
                "UPDATE sync_runs SET heartbeat_ms = $2 WHERE id = $1",
                &[&run.0, &now_ms()],
            )
            .await
            .backend()?;
            Ok(())
        }))
    }

    fn release_run(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        block_on(self.leased(run, lease, Hold::Update, async |tx| {
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
        block_on(self.leased(run, lease, Hold::Share, async |tx| {
            let stage: Option<i64> = tx
                .query_one("SELECT MIN(stage) FROM work WHERE run_id = $1", &[&run.0])
                .await
                .backend()?
                .try_get(0)
                .backend()?;
            let Some(stage) = stage else {
                return Ok(Vec::new());
            };
            let stmt = tx
                .prepare_cached(
                    "UPDATE work SET claimed = TRUE WHERE id IN (
                         SELECT id FROM work WHERE run_id = $1 AND stage = $2 AND NOT claimed
                         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING id, kind, resource_type, scope, token",
                )
                .await
                .backend()?;
            let rows = tx
                .query(&stmt, &[&run.0, &stage, &super::limit(limit)])
                .await
                .backend()?;
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
        }))
    }

    fn commit_page(&self, run: RunId, lease: &str, commit: &PageCommit) -> Result<(), StoreError> {
        let resources = resource_columns(&commit.resources)?;
        let entitlements = entitlement_columns(&commit.entitlements)?;
        let mut grants: [Vec<&str>; 6] = Default::default();
        let mut annotations: Vec<Option<String>> = Vec::with_capacity(commit.grants.len());
        for g in &commit.grants {
            let values = [
                g.entitlement.resource.resource_type.as_str(),
                g.entitlement.resource.id.as_str(),
                g.entitlement.slug.as_str(),
                g.principal.resource_type.as_str(),
                g.principal.id.as_str(),
            ];
            for (column, value) in grants.iter_mut().zip(values) {
                column.push(value);
            }
            annotations.push(if g.annotations.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&g.annotations).backend()?)
            });
        }
        block_on(self.leased(run, lease, Hold::Share, async |tx| {
            Self::insert_work(tx, run, &commit.work).await?;
            if !resources[0].is_empty() {
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO resources (run_id, resource_type, resource_id, parent,
                             display_name, status, login, email, data)
                         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[],
                             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                         ON CONFLICT (run_id, resource_type, resource_id) DO UPDATE SET
                             parent = EXCLUDED.parent, display_name = EXCLUDED.display_name,
                             status = EXCLUDED.status, login = EXCLUDED.login,
                             email = EXCLUDED.email, data = EXCLUDED.data",
                    )
                    .await
                    .backend()?;
                let [a, b, c, d, e, f, g, h] = &resources;
                tx.execute(&stmt, &[&run.0, a, b, c, d, e, f, g, h])
                    .await
                    .backend()?;
            }
            if !entitlements[0].is_empty() {
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO entitlements (run_id, resource_type, resource_id, slug,
                             display_name, purpose, grantable_to, data)
                         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[],
                             $5::text[], $6::text[], $7::text[], $8::text[])
                         ON CONFLICT (run_id, resource_type, resource_id, slug) DO UPDATE SET
                             display_name = EXCLUDED.display_name, purpose = EXCLUDED.purpose,
                             grantable_to = EXCLUDED.grantable_to, data = EXCLUDED.data",
                    )
                    .await
                    .backend()?;
                let [a, b, c, d, e, f, g] = &entitlements;
                tx.execute(&stmt, &[&run.0, a, b, c, d, e, f, g])
                    .await
                    .backend()?;
            }
            if !annotations.is_empty() {
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO grants (run_id, entitlement_type, entitlement_id, slug,
                             principal_type, principal_id, annotations)
                         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[],
                             $5::text[], $6::text[], $7::text[])
                         ON CONFLICT DO NOTHING",
                    )
                    .await
                    .backend()?;
                let [a, b, c, d, e, _] = &grants;
                tx.execute(&stmt, &[&run.0, a, b, c, d, e, &annotations])
                    .await
                    .backend()?;
            }
            if !commit.warnings.is_empty() {
                tx.execute(
                    "INSERT INTO warnings (run_id, message)
                     SELECT $1, m FROM UNNEST($2::text[]) WITH ORDINALITY AS w(m, n) ORDER BY n",
                    &[&run.0, &commit.warnings],
                )
                .await
                .backend()?;
            }
            if let Some(done) = commit.done {
                tx.execute(
                    "DELETE FROM work WHERE id = $1 AND run_id = $2",
                    &[&done.0, &run.0],
                )
                .await
                .backend()?;
            }
            Ok(())
        }))
    }

    fn seal_run(&self, run: RunId) -> Result<(), StoreError> {
        // Both orders of the grants are indexes kept up to date by every commit: nothing to
        // build, only the planner's statistics to refresh for the queries that follow.
        block_on(async {
            let client = self.client().await?;
            Self::check_run(&client, run).await?;
            client
                .batch_execute("ANALYZE grants, resources, entitlements")
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
        block_on(async {
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
            tx.commit().await.backend()
        })
    }
}
