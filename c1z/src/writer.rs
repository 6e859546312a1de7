//! [`Writer`]: one completed run of any [`Store`] as a v1 `.c1z`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_sdk::{
    EntitlementId, ResourceId, ResourceType, ResourceTypeId, RunId, RunStatus, Store,
};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::convert;
use crate::error::Database as _;
use crate::rows::{self, Stamp};
use crate::{Error, container, ksuid, pb};

use crate::rows::INDEXES;

/// Rows read from the store at a time: memory stays flat whatever the tenant's size.
const PAGE: usize = 1_000;

/// The tables whose rows a file written into passes on (baton's seven and our fingerprints),
/// and whose rows of dropped syncs retention deletes.
const TABLES: [&str; 8] = [
    "v1_sync_runs",
    "v1_resource_types",
    "v1_resources",
    "v1_entitlements",
    "v1_grants",
    "v1_assets",
    "v1_connector_sessions",
    "c1z_sync_fingerprints",
];

/// Writes completed runs of a store as v1 `.c1z` files that baton's tools read.
#[derive(Debug, Clone)]
pub struct Writer {
    keep: usize,
    level: i32,
    clock: Option<SystemTime>,
    sync_id: Option<String>,
    fingerprint_change: bool,
}

impl Default for Writer {
    fn default() -> Self {
        Self {
            keep: 2,
            level: 1,
            clock: None,
            sync_id: None,
            fingerprint_change: false,
        }
    }
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteReport {
    /// The new sync's id.
    pub sync_id: String,
    /// Rows written per table: resource types, resources, entitlements, grants.
    pub resource_types: u64,
    /// Resources written.
    pub resources: u64,
    /// Entitlements written.
    pub entitlements: u64,
    /// Grants written.
    pub grants: u64,
    /// Finished syncs the file holds now (this one included).
    pub syncs_kept: usize,
    /// Size of the `.c1z`, in bytes.
    pub bytes: u64,
    /// Whether the rows were written while the sync ran, from the pages it stored
    /// ([`crate::LiveWriter`]), rather than read back from the store afterwards.
    pub written_during_sync: bool,
}

impl Writer {
    /// A writer keeping the two newest finished syncs (so `baton diff` has two), compressing at
    /// zstd level 1 (baton's readers take levels 1 to 3; 1 is twice as fast, for files about 10%
    /// larger).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the `keep` newest finished syncs in a file written into (at least 1).
    pub fn with_keep_syncs(mut self, keep: usize) -> Self {
        self.keep = keep.max(1);
        self
    }

    /// Writes every time stamp as `at` and derives the sync id from it alone, so the same run
    /// gives the same bytes (tests, golden files).
    pub fn with_clock(mut self, at: SystemTime) -> Self {
        self.clock = Some(at);
        self
    }

    /// Lets a run be written into a file whose latest sync came from another tenant (or other
    /// settings); refused by default with [`Error::OtherFingerprint`].
    pub fn with_fingerprint_change(mut self, allow: bool) -> Self {
        self.fingerprint_change = allow;
        self
    }

    /// Uses `sync_id` for the new sync instead of a fresh KSUID.
    pub fn with_sync_id(mut self, sync_id: impl Into<String>) -> Self {
        self.sync_id = Some(sync_id.into());
        self
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.unwrap_or_else(SystemTime::now)
    }

    /// The id of a sync started at `started`: the one set, or a KSUID of that time (with a
    /// payload of zeros under a fixed clock).
    pub(crate) fn sync_id_for(&self, started: SystemTime) -> String {
        self.sync_id.clone().unwrap_or_else(|| {
            let payload = match self.clock {
                Some(_) => [0u8; 16],
                None => rand::random(),
            };
            ksuid::ksuid(started, payload)
        })
    }

    /// Compresses the finished database `db` into `path` through a staged file in `work`
    /// (renamed into place, so a reader never sees half a file); returns the file's size. A
    /// new file is private; one replaced keeps the permissions an operator gave it.
    pub(crate) fn place(&self, db: &Path, work: &Path, path: &Path) -> Result<u64, Error> {
        let staged = work.join("out.c1z");
        container::compress(db, &staged, self.level)?;
        if let Some(mode) = connector_sdk::files::shared_mode(path) {
            connector_sdk::files::warn_if_shared(path);
            #[cfg(unix)]
            std::fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(Error::io(path))?;
            #[cfg(not(unix))]
            let _ = mode;
        }
        std::fs::rename(&staged, path).map_err(Error::io(path))?;
        Ok(std::fs::metadata(path).map_err(Error::io(path))?.len())
    }

    /// Writes completed `run` of `store` into the `.c1z` at `path`. A file already there (ours
    /// or baton's) gains a new sync and keeps its newest finished ones; otherwise a new file is
    /// made. The file is built in a temporary directory beside `path` and renamed into place,
    /// so a reader never sees half a file. A new file is readable by its owner only (`0600`);
    /// one replaced keeps its permissions, with a warning when others may read it.
    pub fn write(&self, store: &dyn Store, run: RunId, path: &Path) -> Result<WriteReport, Error> {
        let record = store
            .runs()?
            .into_iter()
            .find(|r| r.id == run)
            .ok_or(Error::Store(connector_sdk::StoreError::UnknownRun(run)))?;
        if record.status != RunStatus::Completed {
            return Err(Error::RunNotCompleted(run));
        }
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let work = tempfile::Builder::new()
            .prefix(".c1z-")
            .tempdir_in(parent)
            .map_err(Error::io(parent))?;
        let db = work.path().join("db.sqlite");
        let existing = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        let old = existing
            .then(|| {
                let old = work.path().join("old.sqlite");
                container::decompress(path, &old, crate::reader::DEFAULT_MAX_DECODED)?;
                // Checked as any file read is (no views, no triggers, bounded values), and
                // never opened for writing: its rows are copied into a fresh database.
                let conn = crate::reader::open_untrusted(&old)?;
                if !self.fingerprint_change
                    && let Some((sync_id, file)) = latest_fingerprint(&conn)?
                    && !same_fingerprint(&file, &record.fingerprint)
                {
                    return Err(Error::OtherFingerprint {
                        sync_id,
                        file,
                        run: record.fingerprint.clone(),
                    });
                }
                Ok::<_, Error>(old)
            })
            .transpose()?;
        let mut report = self.fill(store, run, &record, &db, old.as_deref())?;
        report.bytes = self.place(&db, work.path(), path)?;
        Ok(report)
    }

    /// Builds a fresh SQLite database at `db`: schema, the rows of the file written into (`old`,
    /// when there is one), the run's rows as a new sync, retention, indexes, VACUUM.
    fn fill(
        &self,
        store: &dyn Store,
        run: RunId,
        record: &connector_sdk::SyncRun,
        db: &Path,
        old: Option<&Path>,
    ) -> Result<WriteReport, Error> {
        // 4 MiB of page cache: rows arrive in key order, so a larger cache buys little, and a
        // sync task's peak memory is mostly SQLite's (docs/c1z.md, "Memory").
        let mut conn = rows::create(db, 4096)?;
        // Indexes are built after the rows are in: one sorted pass each.
        drop_indexes(&conn)?;
        if let Some(old) = old {
            copy_rows(&conn, old)?;
        }
        let now = self.now();
        let started = at_ms(record.started_at_ms);
        let ended = record.finished_at_ms.map_or(now, at_ms);
        let sync_id = self.sync_id_for(started);
        let tx = conn.transaction().database()?;
        rows::sync_run(&tx, &sync_id, started, ended, &record.fingerprint)?;
        let stamp = Stamp {
            sync_id: sync_id.clone(),
            discovered: ksuid::timestamp(now),
        };
        let rows = Rows { tx: &tx, stamp };
        let types = store.resource_types(run)?;
        let mut report = WriteReport {
            sync_id: sync_id.clone(),
            resource_types: 0,
            resources: 0,
            entitlements: 0,
            grants: 0,
            syncs_kept: 0,
            bytes: 0,
            written_during_sync: false,
        };
        let catalogue = rows.resource_types(&types)?;
        report.resource_types = types.len() as u64;
        for rt in &types {
            report.resources += rows.resources(store, run, rt)?;
        }
        report.entitlements = rows.entitlements(store, run, &catalogue)?;
        report.grants = rows.grants(store, run, &catalogue)?;
        report.syncs_kept = retain(&tx, self.keep)?;
        tx.commit().database()?;
        conn.execute_batch(INDEXES).database()?;
        // A file written into may have free pages left by retention; a new one has none.
        let free: i64 = conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .database()?;
        if free > 0 {
            conn.execute_batch("VACUUM").database()?;
        }
        conn.close()
            .map_err(|(_, e)| Error::Database(Box::new(e)))?;
        Ok(report)
    }
}

pub(crate) fn at_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Copies the rows of baton's tables from the database `old` into `conn`'s fresh ones: the
/// columns both have (an older baton file lacks some newer ones; they take their defaults).
/// `old` is attached read-only and only read.
fn copy_rows(conn: &Connection, old: &Path) -> Result<(), Error> {
    let uri = url_path(old);
    conn.execute("ATTACH DATABASE ?1 AS old", [&uri])
        .database()?;
    // Values of the old file are bounded as a read bounds them; our own rows keep SQLite's
    // default afterwards.
    let limit = rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH;
    let previous = conn
        .set_limit(limit, crate::reader::MAX_VALUE_BYTES)
        .database()?;
    let copied = (|| {
        for table in TABLES {
            let columns = |schema: &str| -> Result<Vec<String>, Error> {
                conn.prepare(&format!(
                    "SELECT name FROM pragma_table_info('{table}', '{schema}')"
                ))
                .database()?
                .query_map([], |r| r.get(0))
                .database()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .database()
            };
            let ours = columns("main")?;
            let theirs = columns("old")?;
            let common: Vec<&String> = ours.iter().filter(|c| theirs.contains(c)).collect();
            if common.is_empty() {
                continue;
            }
            let list = common
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            conn.execute_batch(&format!(
                "INSERT INTO main.{table} ({list}) SELECT {list} FROM old.{table}"
            ))
            .database()?;
        }
        Ok(())
    })();
    conn.execute_batch("DETACH DATABASE old").database()?;
    conn.set_limit(limit, previous).database()?;
    copied
}

/// Whether two stored fingerprints are of the same tenant and settings (the same text, or
/// texts that decode to matching [`Fingerprint`](connector_sdk::Fingerprint)s: one written
/// before fingerprints had names matches the named form of the same settings).
fn same_fingerprint(a: &str, b: &str) -> bool {
    a == b || connector_sdk::Fingerprint::decode(a).is_ok_and(|a| a.matches_stored(b))
}

/// The latest finished sync of a file and the fingerprint it was written with, when the file
/// records one (files from baton, or from before fingerprints were recorded, do not).
fn latest_fingerprint(conn: &Connection) -> Result<Option<(String, String)>, Error> {
    let recorded: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = \
             'c1z_sync_fingerprints')",
            [],
            |r| r.get(0),
        )
        .database()?;
    if !recorded {
        return Ok(None);
    }
    let latest: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT r.sync_id, f.fingerprint FROM v1_sync_runs r
             LEFT JOIN c1z_sync_fingerprints f ON f.sync_id = r.sync_id
             WHERE r.ended_at IS NOT NULL ORDER BY r.id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .database()?;
    Ok(latest.and_then(|(sync, fingerprint)| Some((sync, fingerprint?))))
}

/// A read-only SQLite URI for `path`.
fn url_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let escaped: String = text
        .chars()
        .map(|c| match c {
            '%' => "%25".to_owned(),
            '?' => "%3f".to_owned(),
            '#' => "%23".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("file:{escaped}?mode=ro")
}

fn drop_indexes(conn: &Connection) -> Result<(), Error> {
    let names: Vec<String> = INDEXES
        .lines()
        .filter_map(|line| line.split("EXISTS ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    for name in names {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
            .database()?;
    }
    Ok(())
}

/// Keeps the `keep` newest finished syncs (by insertion order, as baton does) and deletes the
/// rows of older ones. Returns how many finished syncs remain.
fn retain(tx: &Transaction<'_>, keep: usize) -> Result<usize, Error> {
    let finished: Vec<String> = tx
        .prepare("SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NOT NULL ORDER BY id")
        .database()?
        .query_map([], |r| r.get(0))
        .database()?
        .collect::<rusqlite::Result<_>>()
        .database()?;
    let drop = finished.len().saturating_sub(keep);
    for sync in &finished[..drop] {
        for table in TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE sync_id = ?1"), [sync])
                .database()?;
        }
    }
    Ok(finished.len() - drop)
}

/// Each resource type's SDK form and baton message.
pub(crate) type Catalogue = BTreeMap<ResourceTypeId, (ResourceType, pb::ResourceType)>;

/// Inserts rows of one sync, read from the store.
struct Rows<'a> {
    tx: &'a Transaction<'a>,
    stamp: Stamp,
}

impl Rows<'_> {
    fn resource_types(&self, types: &[ResourceType]) -> Result<Catalogue, Error> {
        let mut catalogue = Catalogue::new();
        for rt in types {
            let message = rows::resource_type(self.tx, rt, &self.stamp)?;
            catalogue.insert(rt.id.clone(), (rt.clone(), message));
        }
        Ok(catalogue)
    }

    fn resources(&self, store: &dyn Store, run: RunId, rt: &ResourceType) -> Result<u64, Error> {
        each(
            |after: Option<&String>| {
                store.resources_page(run, &rt.id, after.map(String::as_str), PAGE)
            },
            |r| r.id.id.clone(),
            |r| {
                let message = convert::resource(r, &rt.traits);
                rows::resource(self.tx, r, &message.encode_to_vec(), &self.stamp)
            },
        )
    }

    fn entitlements(
        &self,
        store: &dyn Store,
        run: RunId,
        catalogue: &Catalogue,
    ) -> Result<u64, Error> {
        let mut owner = Owner::default();
        each(
            |after| store.entitlements_page(run, after, PAGE),
            |e| e.id.clone(),
            |e| {
                let resource = owner.get(store, run, &e.id.resource, catalogue)?;
                let message = rows::entitlement_message(e, resource.clone(), catalogue);
                rows::entitlement(self.tx, e, &message.encode_to_vec(), &self.stamp)
            },
        )
    }

    fn grants(&self, store: &dyn Store, run: RunId, catalogue: &Catalogue) -> Result<u64, Error> {
        let mut owner = Owner::default();
        let mut blob = Vec::new();
        // Grants come in entitlement order: the entitlement part of the blob (the full resource
        // and the id) is encoded once per entitlement.
        let mut entitlement: Option<(EntitlementId, Vec<u8>)> = None;
        each(
            |after| store.grants_page(run, after, PAGE),
            Clone::clone,
            |g| {
                if entitlement
                    .as_ref()
                    .is_none_or(|(id, _)| *id != g.entitlement)
                {
                    let resource = owner.get(store, run, &g.entitlement.resource, catalogue)?;
                    let bytes = rows::grant_head(&g.entitlement, &resource.encode_to_vec());
                    entitlement = Some((g.entitlement.clone(), bytes));
                }
                let Some((_, encoded)) = &entitlement else {
                    unreachable!("set above");
                };
                blob.clear();
                convert::encode_grant(g, encoded, &mut blob);
                rows::grant(self.tx, g, &blob, &self.stamp)
            },
        )
    }
}

/// Calls `write` on every row `fetch` pages through, a page at a time (`key` gives the cursor
/// of the next page); returns how many rows there were.
fn each<T, K>(
    mut fetch: impl FnMut(Option<&K>) -> Result<Vec<T>, connector_sdk::StoreError>,
    key: impl Fn(&T) -> K,
    mut write: impl FnMut(&T) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut count = 0;
    let mut after: Option<K> = None;
    loop {
        let page = fetch(after.as_ref())?;
        for row in &page {
            write(row)?;
            count += 1;
        }
        if page.len() < PAGE {
            return Ok(count);
        }
        after = page.last().map(&key);
    }
}

/// The resource that offers the entitlements being written, as baton's message: rows come in
/// resource order, so one is kept at a time.
#[derive(Default)]
struct Owner {
    current: Option<(ResourceId, pb::Resource)>,
}

impl Owner {
    fn get(
        &mut self,
        store: &dyn Store,
        run: RunId,
        id: &ResourceId,
        catalogue: &Catalogue,
    ) -> Result<&pb::Resource, Error> {
        let fresh = self.current.as_ref().is_none_or(|(held, _)| held != id);
        if fresh {
            let traits = catalogue
                .get(&id.resource_type)
                .map(|(rt, _)| rt.traits.clone())
                .unwrap_or_default();
            let message = match store.resource(run, id)? {
                Some(resource) => convert::resource(&resource, &traits),
                // A run that passed its integrity check has every resource; keep the id alone
                // otherwise, as baton's slim rows do.
                None => rows::slim_resource(id),
            };
            self.current = Some((id.clone(), message));
        }
        match &self.current {
            Some((_, message)) => Ok(message),
            None => unreachable!("set above"),
        }
    }
}
