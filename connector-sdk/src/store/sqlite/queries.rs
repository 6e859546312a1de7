//! The host's queries ([`Store`]): runs, rows, pages, counts, diffs and integrity checks.

use super::*;

impl Store for SqliteStore {
    fn latest_run(&self, connector: &str) -> Result<Option<SyncRun>, StoreError> {
        let conn = self.read_conn()?;
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
        // Each check looks up what it checks once, not once per grant: the distinct
        // (entitlement, principal type) pairs of the run against the entitlements, the distinct
        // principals against the resources (both streamed in key order from an index); only the
        // keys that fail are joined back to their grants. Lookups: entitlements × principal
        // types, and principals, instead of twice the grants.
        let by_entitlement = "WITH keys AS MATERIALIZED (
                 SELECT DISTINCT entitlement_type, entitlement_id, slug, principal_type
                 FROM grants WHERE run_id = ?1),
             bad AS MATERIALIZED (
                 SELECT k.entitlement_type, k.entitlement_id, k.slug, k.principal_type,
                        e.grantable_to IS NULL AS missing
                 FROM keys k LEFT JOIN entitlements e
                   ON e.run_id = ?1 AND e.resource_type = k.entitlement_type
                  AND e.resource_id = k.entitlement_id AND e.slug = k.slug
                 WHERE e.grantable_to IS NULL
                    OR instr(e.grantable_to, ',' || k.principal_type || ',') = 0)
             SELECT g.entitlement_type, g.entitlement_id, g.slug, g.principal_type,
                    g.principal_id, b.missing
             FROM bad b JOIN grants g
               ON g.run_id = ?1 AND g.entitlement_type = b.entitlement_type
              AND g.entitlement_id = b.entitlement_id AND g.slug = b.slug
              AND g.principal_type = b.principal_type";
        let by_principal = "WITH principals AS MATERIALIZED (
                 SELECT DISTINCT principal_type, principal_id
                 FROM grants_by_principal WHERE run_id = ?1),
             missing AS MATERIALIZED (
                 SELECT p.principal_type, p.principal_id FROM principals p
                 WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.run_id = ?1
                                   AND r.resource_type = p.principal_type
                                   AND r.resource_id = p.principal_id))
             SELECT g.entitlement_type, g.entitlement_id, g.slug, g.principal_type,
                    g.principal_id, 2
             FROM missing m JOIN grants_by_principal g
               ON g.run_id = ?1 AND g.principal_type = m.principal_type
              AND g.principal_id = m.principal_id";
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
                let kind = crate::store::columns::integrity_kind(r.get(5).backend()?);
                let key = (0..5)
                    .map(|i| r.get::<_, String>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .backend()?;
                let grant = crate::store::columns::grant_key(key);
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
        let conn = self.read_conn()?;
        let mut stmt = conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM sync_runs ORDER BY id"))
            .backend()?;
        let rows = stmt.query_map([], Self::read_run).backend()?;
        rows.map(|r| Self::to_run(r.backend()?)).collect()
    }

    fn resource_types(&self, run: RunId) -> Result<Vec<ResourceType>, StoreError> {
        let conn = self.read_conn()?;
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
        let conn = self.read_conn()?;
        // The first page and the pages after a key are two statements: the one after a key
        // seeks in the index (`?3 IS NULL OR …` would scan from the start of the type every time).
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let decode = |r: &rusqlite::Row<'_>| r.get::<_, String>(0);
        let rows: Vec<String> = match after {
            None => conn
                .prepare_cached(
                    "SELECT data FROM resources WHERE run_id = ?1 AND resource_type = ?2
                     ORDER BY resource_id LIMIT ?3",
                )
                .backend()?
                .query_map(params![run.0, resource_type.as_str(), limit], decode)
                .backend()?
                .collect::<Result<_, _>>()
                .backend()?,
            Some(after) => conn
                .prepare_cached(
                    "SELECT data FROM resources
                     WHERE run_id = ?1 AND resource_type = ?2 AND resource_id > ?3
                     ORDER BY resource_id LIMIT ?4",
                )
                .backend()?
                .query_map(params![run.0, resource_type.as_str(), after, limit], decode)
                .backend()?
                .collect::<Result<_, _>>()
                .backend()?,
        };
        rows.iter()
            .map(|json| serde_json::from_str(json).backend())
            .collect()
    }

    fn resource(&self, run: RunId, id: &ResourceId) -> Result<Option<Resource>, StoreError> {
        let conn = self.read_conn()?;
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
        let conn = self.read_conn()?;
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
        let conn = self.read_conn()?;
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

    fn grants_for_entitlement_page(
        &self,
        run: RunId,
        entitlement: &EntitlementId,
        after: Option<&ResourceId>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        // Two statements, so the one after a key seeks in the index instead of filtering.
        const COLUMNS: &str = "SELECT entitlement_type, entitlement_id, slug, principal_type,
                principal_id, annotations FROM grants
             WHERE run_id = ?1 AND entitlement_type = ?2 AND entitlement_id = ?3 AND slug = ?4";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let e = entitlement;
        let (kind, id, slug) = (e.resource.resource_type.as_str(), &e.resource.id, &e.slug);
        match after {
            None => self.grants_query(
                &format!("{COLUMNS} ORDER BY principal_type, principal_id LIMIT ?5"),
                params![run.0, kind, id, slug, limit],
            ),
            Some(p) => self.grants_query(
                &format!(
                    "{COLUMNS} AND (principal_type, principal_id) > (?5, ?6)
                     ORDER BY principal_type, principal_id LIMIT ?7"
                ),
                params![run.0, kind, id, slug, p.resource_type.as_str(), p.id, limit],
            ),
        }
    }

    fn grants_for_principal_page(
        &self,
        run: RunId,
        principal: &ResourceId,
        after: Option<&EntitlementId>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        const COLUMNS: &str = "SELECT entitlement_type, entitlement_id, slug, principal_type,
                principal_id, annotations FROM grants_by_principal
             WHERE run_id = ?1 AND principal_type = ?2 AND principal_id = ?3";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (kind, id) = (principal.resource_type.as_str(), &principal.id);
        match after {
            None => self.grants_query(
                &format!("{COLUMNS} ORDER BY entitlement_type, entitlement_id, slug LIMIT ?4"),
                params![run.0, kind, id, limit],
            ),
            Some(e) => self.grants_query(
                &format!(
                    "{COLUMNS} AND (entitlement_type, entitlement_id, slug) > (?4, ?5, ?6)
                     ORDER BY entitlement_type, entitlement_id, slug LIMIT ?7"
                ),
                params![
                    run.0,
                    kind,
                    id,
                    e.resource.resource_type.as_str(),
                    e.resource.id,
                    e.slug,
                    limit
                ],
            ),
        }
    }

    fn warnings(&self, run: RunId) -> Result<Vec<String>, StoreError> {
        let conn = self.read_conn()?;
        let mut stmt = conn
            .prepare("SELECT message FROM warnings WHERE run_id = ?1 ORDER BY id")
            .backend()?;
        let rows = stmt
            .query_map([run.0], |r| r.get::<_, String>(0))
            .backend()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().backend()
    }

    fn counts(&self, run: RunId) -> Result<RunCounts, StoreError> {
        let conn = self.read_conn()?;
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
        let conn = self.read_conn()?;
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
        Ok(SyncDiff {
            added_resources: Self::id_diff(&conn, resources, new, old, 2)?
                .into_iter()
                .map(crate::store::columns::resource_key)
                .collect(),
            removed_resources: Self::id_diff(&conn, resources, old, new, 2)?
                .into_iter()
                .map(crate::store::columns::resource_key)
                .collect(),
            added_entitlements: Self::id_diff(&conn, entitlements, new, old, 3)?
                .into_iter()
                .map(crate::store::columns::entitlement_key)
                .collect(),
            removed_entitlements: Self::id_diff(&conn, entitlements, old, new, 3)?
                .into_iter()
                .map(crate::store::columns::entitlement_key)
                .collect(),
            added_grants: Self::id_diff(&conn, grants, new, old, 5)?
                .into_iter()
                .map(crate::store::columns::grant_key)
                .collect(),
            removed_grants: Self::id_diff(&conn, grants, old, new, 5)?
                .into_iter()
                .map(crate::store::columns::grant_key)
                .collect(),
        })
    }
}
