//! The database a [`super::LiveWriter`] fills: rows as pages arrive, baton's indexes kept up,
//! and the resources that entitlements and grants embed kept final.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use connector_sdk::{
    EntitlementId, ResourceId, RunCounts, RunId, RunStatus, Store, StoreError, StoredPage, SyncRun,
};
use prost::Message as _;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Database as _;
use crate::rows::{self, Stamp};
use crate::writer::{Catalogue, WriteReport, Writer, at_ms};
use crate::{Error, convert, ksuid, pb};

/// Hashes of the resources that offer entitlements kept in memory, at most; past that the
/// cache starts again.
const OWNERS: usize = 65_536;

/// Encoded grant heads (an entitlement's id and its resource in full) kept in memory, at most.
const HEADS: usize = 4_096;

/// Page cache of the database being written, in KiB: its indexes are kept up as rows arrive.
const CACHE_KIB: i64 = 4096;

/// The hash of a resource's encoded message, as `side.owners` keeps it.
fn hash(bytes: &[u8]) -> i64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    i64::from_ne_bytes(hasher.finish().to_ne_bytes())
}

/// The database being written, and what writing it needs.
pub(super) struct Live {
    conn: Connection,
    path: PathBuf,
    run: RunId,
    catalogue: Catalogue,
    stamp: Stamp,
    /// The hash each resource offering entitlements was last recorded with.
    owners: HashMap<ResourceId, i64>,
    /// Encoded grant heads by entitlement, with the hash of the owner message they embed.
    heads: HashMap<EntitlementId, (i64, Vec<u8>)>,
    blob: Vec<u8>,
    /// Resources whose embeddings were rewritten.
    settled: u64,
}

impl Live {
    /// A new database at `db` with baton's tables and indexes, and the run's resource types.
    pub(super) fn begin(
        db: &Path,
        store: &dyn Store,
        writer: &Writer,
        run: RunId,
    ) -> Result<Self, Error> {
        let record = store
            .runs()?
            .into_iter()
            .find(|r| r.id == run)
            .ok_or(Error::Store(StoreError::UnknownRun(run)))?;
        let conn = rows::create(db, CACHE_KIB)?;
        conn.execute_batch(rows::INDEXES).database()?;
        // Space freed as pages split is zeroed, not left holding old cells: the file
        // compresses to what a bulk-loaded one does.
        conn.pragma_update(None, "secure_delete", "ON").database()?;
        // Which resource messages entitlements and grants embedded (by hash): one replaced
        // afterwards has its embeddings rewritten at the end. A temporary database of its own,
        // so the file written never holds it.
        conn.execute_batch(
            "ATTACH DATABASE '' AS side;
             CREATE TABLE side.owners (
                 resource_type TEXT NOT NULL,
                 resource_id   TEXT NOT NULL,
                 hash          INTEGER NOT NULL,
                 mixed         INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (resource_type, resource_id)
             ) WITHOUT ROWID;
             PRAGMA side.cache_size = -512;",
        )
        .database()?;
        let stamp = Stamp {
            sync_id: writer.sync_id_for(at_ms(record.started_at_ms)),
            discovered: ksuid::timestamp(writer.now()),
        };
        let mut catalogue = Catalogue::new();
        conn.execute_batch("BEGIN").database()?;
        for rt in store.resource_types(run)? {
            let message = rows::resource_type(&conn, &rt, &stamp)?;
            catalogue.insert(rt.id.clone(), (rt, message));
        }
        conn.execute_batch("COMMIT").database()?;
        Ok(Self {
            conn,
            path: db.to_owned(),
            run,
            catalogue,
            stamp,
            owners: HashMap::new(),
            heads: HashMap::new(),
            blob: Vec::new(),
            settled: 0,
        })
    }

    /// The message of the resource offering an entitlement, encoded as stored so far (its id
    /// alone when it is not stored yet), and the bytes' hash; the first use of each message is
    /// recorded.
    fn owner(&mut self, id: &ResourceId) -> Result<(Vec<u8>, i64), Error> {
        let data: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT data FROM v1_resources WHERE external_id = ?1 AND sync_id = ?2
                 AND resource_type_id = ?3",
            )
            .database()?
            .query_row(
                params![
                    convert::resource_key(id),
                    self.stamp.sync_id,
                    id.resource_type.as_str()
                ],
                |r| r.get(0),
            )
            .optional()
            .database()?;
        let bytes = data.unwrap_or_else(|| rows::slim_resource(id).encode_to_vec());
        let hash = hash(&bytes);
        if self.owners.get(id) != Some(&hash) {
            self.conn
                .prepare_cached(
                    "INSERT INTO side.owners (resource_type, resource_id, hash) VALUES (?1, ?2, ?3)
                     ON CONFLICT (resource_type, resource_id) DO UPDATE SET mixed = 1
                     WHERE hash != excluded.hash",
                )
                .database()?
                .execute(params![id.resource_type.as_str(), id.id, hash])
                .database()?;
            if self.owners.len() >= OWNERS {
                self.owners.clear();
            }
            self.owners.insert(id.clone(), hash);
        }
        Ok((bytes, hash))
    }

    /// The run followed.
    pub(super) fn run(&self) -> RunId {
        self.run
    }

    /// Starts a transaction for the pages queued together.
    pub(super) fn begin_batch(&self) -> Result<(), Error> {
        self.conn.execute_batch("BEGIN").database()
    }

    /// Commits the pages written since [`Self::begin_batch`].
    pub(super) fn commit_batch(&self) -> Result<(), Error> {
        self.conn.execute_batch("COMMIT").database()
    }

    /// Lets go of the memory caches hold once every page is written: the sync's end (sealing
    /// the run, then compressing this file) needs it more.
    pub(super) fn drop_caches(&mut self) -> Result<(), Error> {
        self.owners = HashMap::new();
        self.heads = HashMap::new();
        self.conn.execute_batch("PRAGMA shrink_memory").database()
    }

    /// Writes one stored page's rows.
    pub(super) fn page(&mut self, page: &StoredPage) -> Result<(), Error> {
        for r in &page.resources {
            let traits = self
                .catalogue
                .get(&r.id.resource_type)
                .map(|(rt, _)| rt.traits.as_slice())
                .unwrap_or_default();
            let bytes = convert::resource(r, traits).encode_to_vec();
            rows::resource(&self.conn, r, &bytes, &self.stamp)?;
            self.settle(&r.id, &bytes)?;
        }
        for e in &page.entitlements {
            let (owner, _) = self.owner(&e.id.resource)?;
            let message = rows::entitlement_message(e, decode_resource(&owner)?, &self.catalogue);
            rows::entitlement(&self.conn, e, &message.encode_to_vec(), &self.stamp)?;
        }
        for g in &page.grants {
            // A head is current while its resource's hash is the one it was made with (a
            // resource stored since with another message is dropped from `owners` as its
            // embeddings are rewritten, so the next use reloads it).
            let current = self
                .heads
                .get(&g.entitlement)
                .is_some_and(|(made_with, _)| {
                    self.owners.get(&g.entitlement.resource) == Some(made_with)
                });
            if !current {
                let (owner, hash) = self.owner(&g.entitlement.resource)?;
                let head = rows::grant_head(&g.entitlement, &owner);
                if self.heads.len() >= HEADS {
                    self.heads.clear();
                }
                self.heads.insert(g.entitlement.clone(), (hash, head));
            }
            let Some((_, head)) = self.heads.get(&g.entitlement) else {
                unreachable!("inserted above");
            };
            self.blob.clear();
            convert::encode_grant(g, head, &mut self.blob);
            rows::grant(&self.conn, g, &self.blob, &self.stamp)?;
        }
        Ok(())
    }

    /// Makes every entitlement and grant that `id` offers embed `bytes`, its message as stored
    /// now, when any embeds another (it was stored after them, or replaced since); whether any
    /// did. Called as each resource is stored, so the rewriting happens while the sync runs.
    fn settle(&mut self, id: &ResourceId, bytes: &[u8]) -> Result<bool, Error> {
        let recorded: Option<(i64, bool)> = self
            .conn
            .prepare_cached(
                "SELECT hash, mixed FROM side.owners WHERE resource_type = ?1 AND resource_id = ?2",
            )
            .database()?
            .query_row(params![id.resource_type.as_str(), id.id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .database()?;
        let now = hash(bytes);
        match recorded {
            Some((embedded, false)) if embedded == now => return Ok(false),
            None => return Ok(false),
            Some(_) => {}
        }
        let owner = decode_resource(bytes)?;
        self.rewrite("v1_entitlements", id, |data| {
            let mut e = pb::Entitlement::decode(data).ok()?;
            e.resource = Some(owner.clone());
            Some(e.encode_to_vec())
        })?;
        self.rewrite("v1_grants", id, |data| {
            let mut g = pb::Grant::decode(data).ok()?;
            g.entitlement.as_mut()?.resource = Some(owner.clone());
            Some(g.encode_to_vec())
        })?;
        self.conn
            .prepare_cached(
                "UPDATE side.owners SET hash = ?3, mixed = 0
                 WHERE resource_type = ?1 AND resource_id = ?2",
            )
            .database()?
            .execute(params![id.resource_type.as_str(), id.id, now])
            .database()?;
        self.owners.remove(id);
        self.settled += 1;
        Ok(true)
    }

    /// Replaces the blob of each row of `table` whose entitlement `owner` offers, a row at a
    /// time (the index read does not cover the blob being replaced).
    fn rewrite(
        &self,
        table: &'static str,
        owner: &ResourceId,
        change: impl Fn(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let mut select = self
            .conn
            .prepare(&format!(
                "SELECT id, data FROM {table} WHERE resource_type_id = ?1 AND resource_id = ?2"
            ))
            .database()?;
        let mut update = self
            .conn
            .prepare(&format!("UPDATE {table} SET data = ?2 WHERE id = ?1"))
            .database()?;
        let mut rows = select
            .query(params![owner.resource_type.as_str(), owner.id])
            .database()?;
        while let Some(row) = rows.next().database()? {
            let id: i64 = row.get(0).database()?;
            let data = row
                .get_ref(1)
                .database()?
                .as_blob()
                .map_err(|e| Error::Database(Box::new(e)))?;
            let changed = change(data).ok_or(Error::Blob {
                table,
                row: id,
                message: "message of its table",
                source: None,
            })?;
            update.execute(params![id, changed]).database()?;
        }
        Ok(())
    }

    /// Rows per resource type in `table`.
    fn counted(
        &self,
        table: &str,
    ) -> Result<std::collections::BTreeMap<connector_sdk::ResourceTypeId, u64>, Error> {
        self.conn
            .prepare(&format!(
                "SELECT resource_type_id, COUNT(*) FROM {table} GROUP BY resource_type_id"
            ))
            .database()?
            .query_map([], |r| {
                Ok((
                    connector_sdk::ResourceTypeId::new(r.get::<_, String>(0)?),
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })
            .database()?
            .collect::<rusqlite::Result<_>>()
            .database()
    }

    /// Whether the rows written are as many, per resource type, as the run's.
    fn check_counts(&self, counts: &RunCounts) -> Result<Result<(), String>, Error> {
        let nonzero = |m: &std::collections::BTreeMap<connector_sdk::ResourceTypeId, u64>| {
            m.iter()
                .filter(|(_, n)| **n > 0)
                .map(|(t, n)| (t.clone(), *n))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        for (table, expected) in [
            ("v1_resources", &counts.resources),
            ("v1_entitlements", &counts.entitlements),
            ("v1_grants", &counts.grants),
        ] {
            let written = self.counted(table)?;
            if written != nonzero(expected) {
                return Ok(Err(format!(
                    "{table} holds {written:?} rows per type where the run has {:?}",
                    nonzero(expected)
                )));
            }
        }
        Ok(Ok(()))
    }

    /// Completes the file for completed run `self.run` and places it at `path`; why not when
    /// the rows cannot be used.
    pub(super) fn finish(
        self,
        store: &dyn Store,
        writer: &Writer,
        work: &Path,
        path: &Path,
    ) -> Result<WriteReport, String> {
        let run = self.run;
        let reason = |error: Error| connector_sdk::error_chain(&error);
        let record = store
            .runs()
            .map_err(|e| reason(e.into()))?
            .into_iter()
            .find(|r| r.id == run)
            .ok_or_else(|| reason(Error::Store(StoreError::UnknownRun(run))))?;
        if record.status != RunStatus::Completed {
            return Err(reason(Error::RunNotCompleted(run)));
        }
        let counts = store.counts(run).map_err(|e| reason(e.into()))?;
        self.complete(&record, &counts, writer).map_err(reason)??;
        tracing::debug!(%run, resources_rewritten = self.settled, "the rows are complete");
        self.conn
            .close()
            .map_err(|(_, e)| reason(Error::Database(Box::new(e))))?;
        let bytes = writer.place(&self.path, work, path).map_err(reason)?;
        Ok(WriteReport {
            sync_id: self.stamp.sync_id,
            resource_types: self.catalogue.len() as u64,
            resources: counts.total_resources(),
            entitlements: counts.total_entitlements(),
            grants: counts.total_grants(),
            syncs_kept: 1,
            bytes,
            written_during_sync: true,
        })
    }

    /// Checks the rows against the run's counts and that every embedded resource is final,
    /// then adds the sync's own row; why the rows cannot be used, when they cannot.
    fn complete(
        &self,
        record: &SyncRun,
        counts: &RunCounts,
        writer: &Writer,
    ) -> Result<Result<(), String>, Error> {
        if let Err(why) = self.check_counts(counts)? {
            return Ok(Err(why));
        }
        let unsettled: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM side.owners WHERE mixed = 1",
                [],
                |r| r.get(0),
            )
            .database()?;
        if unsettled > 0 {
            return Ok(Err(format!(
                "{unsettled} resource(s) changed after rows embedded them and were not rewritten"
            )));
        }
        let started = at_ms(record.started_at_ms);
        let ended = record.finished_at_ms.map_or_else(|| writer.now(), at_ms);
        self.conn.execute_batch("BEGIN").database()?;
        rows::sync_run(
            &self.conn,
            &self.stamp.sync_id,
            started,
            ended,
            &record.fingerprint,
        )?;
        self.conn
            .execute_batch("COMMIT; DETACH DATABASE side")
            .database()?;
        Ok(Ok(()))
    }
}

fn decode_resource(bytes: &[u8]) -> Result<pb::Resource, Error> {
    pb::Resource::decode(bytes).map_err(|e| Error::Blob {
        table: "v1_resources",
        row: 0,
        message: "Resource",
        source: Some(e),
    })
}
