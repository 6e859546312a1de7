//! [`Reader`]: the records of one sync of a v1 `.c1z`, ours or baton's.

use std::collections::VecDeque;
use std::path::Path;

use connector_sdk::{Entitlement, Grant, Resource, ResourceType};
use prost::Message;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::convert::{self, entitlement_key, grant_key, resource_key};
use crate::error::Database as _;
use crate::{Error, container, pb};

/// The largest database a reader decompresses by default: 10 GiB, as baton's newer readers.
pub const DEFAULT_MAX_DECODED: u64 = 10 * 1024 * 1024 * 1024;

/// Rows fetched at a time.
const PAGE: i64 = 1_000;

/// The longest value (blob or text) read from a file: baton's blobs are kilobytes; a longer one
/// is refused rather than held in memory.
pub(crate) const MAX_VALUE_BYTES: i32 = 16 * 1024 * 1024;

/// The page cache of a file being read, in KiB.
const READ_CACHE_KIB: i32 = 8 * 1024;

/// Opens a database that came out of a `.c1z` (anyone's) for reading only, so that no file
/// costs more than a bounded amount of memory: values over [`MAX_VALUE_BYTES`] are refused, the
/// page cache is small, and a database holding views or triggers is refused outright (baton's
/// files hold tables and indexes only, and a view or trigger would run the file's own SQL).
pub(crate) fn open_untrusted(db: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .database()?;
    conn.set_limit(
        rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
        MAX_VALUE_BYTES,
    )
    .database()?;
    let code: Option<(String, String)> = conn
        .query_row(
            "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| Error::Schema(format!("the payload is not an SQLite database ({e})")))?;
    if let Some((kind, name)) = code {
        return Err(Error::Schema(format!(
            "it holds a {kind} named {}: only baton's tables are read",
            name.escape_debug()
        )));
    }
    conn.pragma_update(None, "cache_size", -READ_CACHE_KIB)
        .database()?;
    conn.pragma_update(None, "trusted_schema", false)
        .database()?;
    Ok(conn)
}

/// One sync recorded in a `.c1z`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncInfo {
    /// The sync id (a KSUID).
    pub sync_id: String,
    /// `full`, `partial`, … (`full` for files older than the column).
    pub sync_type: String,
    /// Start, as stored (`2006-01-02 15:04:05.999999999`, UTC).
    pub started_at: String,
    /// End, as stored; `None` for an unfinished sync.
    pub ended_at: Option<String>,
}

/// Reads one sync of a v1 `.c1z`: by default the newest finished `full` sync. The database is
/// decompressed into a private temporary directory, removed when the reader is dropped.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
    sync: SyncInfo,
    _dir: tempfile::TempDir,
}

impl Reader {
    /// Opens `path` at its newest finished full sync.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_at(path, None)
    }

    /// Opens `path` at the sync `sync_id`, or its newest finished full sync when `None`.
    pub fn open_at(path: impl AsRef<Path>, sync_id: Option<&str>) -> Result<Self, Error> {
        let path = path.as_ref();
        let dir = tempfile::Builder::new()
            .prefix("c1z-read-")
            .tempdir()
            .map_err(Error::io(std::env::temp_dir()))?;
        let db = dir.path().join("db.sqlite");
        container::decompress(path, &db, DEFAULT_MAX_DECODED)?;
        let conn = open_untrusted(&db)?;
        let syncs = read_syncs(&conn)?;
        let sync = match sync_id {
            Some(wanted) => syncs
                .iter()
                .find(|s| s.sync_id == wanted)
                .cloned()
                .ok_or_else(|| Error::NoSync(format!("the file holds no sync {wanted:?}")))?,
            None => latest_full(&syncs)
                .ok_or_else(|| Error::NoSync("the file holds no finished full sync".to_owned()))?,
        };
        Ok(Self {
            conn,
            sync,
            _dir: dir,
        })
    }

    /// Every sync in the file, oldest first.
    pub fn syncs(&self) -> Result<Vec<SyncInfo>, Error> {
        read_syncs(&self.conn)
    }

    /// The sync being read.
    pub fn sync(&self) -> &SyncInfo {
        &self.sync
    }

    /// The sync's resource types.
    pub fn resource_types(&self) -> Result<Vec<ResourceType>, Error> {
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT id, external_id, data FROM v1_resource_types WHERE sync_id = ?1 ORDER BY id",
        ).database()?;
        let rows = stmt
            .query_map([&self.sync.sync_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .database()?;
        for row in rows {
            let (row, external_id, data) = row.database()?;
            let message =
                decode::<pb::ResourceType>(&data, "v1_resource_types", row, "ResourceType")?;
            agree(
                "v1_resource_types",
                row,
                "external_id",
                &external_id,
                &message.id,
            )?;
            out.push(convert::resource_type_from(&message));
        }
        Ok(out)
    }

    /// The sync's resources, streamed.
    pub fn resources(&self) -> impl Iterator<Item = Result<Resource, Error>> + '_ {
        Rows::new(
            self,
            "v1_resources",
            "resource_type_id, external_id",
            |row, cols, data| {
                let message = decode::<pb::Resource>(data, "v1_resources", row, "Resource")?;
                let resource = convert::resource_from(&message).ok_or(Error::Blob {
                    table: "v1_resources",
                    row,
                    message: "Resource (it has no id)",
                    source: None,
                })?;
                agree(
                    "v1_resources",
                    row,
                    "resource_type_id",
                    &cols[0],
                    resource.id.resource_type.as_str(),
                )?;
                agree(
                    "v1_resources",
                    row,
                    "external_id",
                    &cols[1],
                    &resource_key(&resource.id),
                )?;
                Ok(resource)
            },
        )
    }

    /// The sync's entitlements, streamed.
    pub fn entitlements(&self) -> impl Iterator<Item = Result<Entitlement, Error>> + '_ {
        Rows::new(
            self,
            "v1_entitlements",
            "resource_type_id, resource_id, external_id",
            |row, cols, data| {
                let message =
                    decode::<pb::Entitlement>(data, "v1_entitlements", row, "Entitlement")?;
                let e = convert::entitlement_from(&message).ok_or(Error::Blob {
                    table: "v1_entitlements",
                    row,
                    message: "Entitlement (it names no resource)",
                    source: None,
                })?;
                let table = "v1_entitlements";
                agree(
                    table,
                    row,
                    "resource_type_id",
                    &cols[0],
                    e.id.resource.resource_type.as_str(),
                )?;
                agree(table, row, "resource_id", &cols[1], &e.id.resource.id)?;
                agree(table, row, "external_id", &cols[2], &entitlement_key(&e.id))?;
                agree(table, row, "external_id", &cols[2], &message.id)?;
                Ok(e)
            },
        )
    }

    /// The sync's grants, streamed. A slim grant (newer baton writers keep only ids in the
    /// blob) is completed from its columns.
    pub fn grants(&self) -> impl Iterator<Item = Result<Grant, Error>> + '_ {
        Rows::new(
            self,
            "v1_grants",
            "resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
             principal_resource_id, external_id",
            |row, cols, data| {
                let table = "v1_grants";
                let mut message = decode::<pb::Grant>(data, table, row, "Grant")?;
                complete_slim(&mut message, cols);
                let g = convert::grant_from(&message).ok_or(Error::Blob {
                    table,
                    row,
                    message: "Grant (it names no entitlement or principal)",
                    source: None,
                })?;
                agree(
                    table,
                    row,
                    "resource_type_id",
                    &cols[0],
                    g.entitlement.resource.resource_type.as_str(),
                )?;
                agree(
                    table,
                    row,
                    "resource_id",
                    &cols[1],
                    &g.entitlement.resource.id,
                )?;
                agree(
                    table,
                    row,
                    "entitlement_id",
                    &cols[2],
                    &entitlement_key(&g.entitlement),
                )?;
                agree(
                    table,
                    row,
                    "principal_resource_type_id",
                    &cols[3],
                    g.principal.resource_type.as_str(),
                )?;
                agree(
                    table,
                    row,
                    "principal_resource_id",
                    &cols[4],
                    &g.principal.id,
                )?;
                agree(table, row, "external_id", &cols[5], &grant_key(&g))?;
                Ok(g)
            },
        )
    }
}

/// Fills a slim grant's entitlement resource from the row's columns.
fn complete_slim(message: &mut pb::Grant, cols: &[String]) {
    let entitlement = message.entitlement.get_or_insert_with(Default::default);
    if entitlement
        .resource
        .as_ref()
        .and_then(|r| r.id.as_ref())
        .is_none()
    {
        entitlement.resource = Some(pb::Resource {
            id: Some(pb::ResourceId {
                resource_type: cols[0].clone(),
                resource: cols[1].clone(),
            }),
            ..pb::Resource::default()
        });
    }
    if entitlement.id.is_empty() {
        entitlement.id.clone_from(&cols[2]);
    }
    if message
        .principal
        .as_ref()
        .and_then(|p| p.id.as_ref())
        .is_none()
    {
        message.principal = Some(pb::Resource {
            id: Some(pb::ResourceId {
                resource_type: cols[3].clone(),
                resource: cols[4].clone(),
            }),
            ..pb::Resource::default()
        });
    }
}

fn decode<M: Message + Default>(
    data: &[u8],
    table: &'static str,
    row: i64,
    message: &'static str,
) -> Result<M, Error> {
    M::decode(data).map_err(|e| Error::Blob {
        table,
        row,
        message,
        source: Some(e),
    })
}

fn agree(
    table: &'static str,
    row: i64,
    column: &'static str,
    column_value: &str,
    blob_value: &str,
) -> Result<(), Error> {
    if column_value == blob_value {
        Ok(())
    } else {
        Err(Error::Mismatch {
            table,
            row,
            column,
            column_value: column_value.to_owned(),
            blob_value: blob_value.to_owned(),
        })
    }
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, Error> {
    conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1)"),
        [column],
        |r| r.get(0),
    )
    .database()
}

fn read_syncs(conn: &Connection) -> Result<Vec<SyncInfo>, Error> {
    let exists: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'v1_sync_runs'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| Error::Schema(format!("the payload is not an SQLite database ({e})")))?;
    if exists.is_none() {
        return Err(Error::Schema("it has no v1_sync_runs table".into()));
    }
    // Files from baton-sdk before v0.3 have no sync_type: every sync there is full.
    let sync_type = if has_column(conn, "v1_sync_runs", "sync_type")? {
        "sync_type"
    } else {
        "'full'"
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT sync_id, {sync_type}, CAST(started_at AS TEXT), CAST(ended_at AS TEXT)
         FROM v1_sync_runs ORDER BY id"
        ))
        .database()?;
    let rows = stmt
        .query_map([], |r| {
            Ok(SyncInfo {
                sync_id: r.get(0)?,
                sync_type: r.get(1)?,
                started_at: r.get(2)?,
                ended_at: r.get(3)?,
            })
        })
        .database()?;
    rows.collect::<rusqlite::Result<_>>().database()
}

/// The newest finished full sync: by end time, then sync id, as baton's library picks it.
fn latest_full(syncs: &[SyncInfo]) -> Option<SyncInfo> {
    syncs
        .iter()
        .filter(|s| s.ended_at.is_some() && s.sync_type == "full")
        .max_by(|a, b| (&a.ended_at, &a.sync_id).cmp(&(&b.ended_at, &b.sync_id)))
        .cloned()
}

type Convert<T> = fn(i64, &[String], &[u8]) -> Result<T, Error>;

/// A table's rows of one sync, fetched a page at a time by row id.
struct Rows<'a, T> {
    reader: &'a Reader,
    table: &'static str,
    columns: &'static str,
    convert: Convert<T>,
    after: i64,
    buffer: VecDeque<(i64, Vec<String>, Vec<u8>)>,
    done: bool,
}

impl<'a, T> Rows<'a, T> {
    fn new(
        reader: &'a Reader,
        table: &'static str,
        columns: &'static str,
        convert: Convert<T>,
    ) -> Self {
        Self {
            reader,
            table,
            columns,
            convert,
            after: i64::MIN,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    fn fill(&mut self) -> Result<(), Error> {
        let width = self.columns.split(',').count();
        let mut stmt = self
            .reader
            .conn
            .prepare_cached(&format!(
                "SELECT id, {}, data FROM {} WHERE sync_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                self.columns, self.table
            ))
            .database()?;
        let rows = stmt
            .query_map(
                rusqlite::params![self.reader.sync.sync_id, self.after, PAGE],
                |r| {
                    let id: i64 = r.get(0)?;
                    let cols = (1..=width)
                        .map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    let data: Vec<u8> = r.get(width + 1)?;
                    Ok((id, cols, data))
                },
            )
            .database()?;
        for row in rows {
            self.buffer.push_back(row.database()?);
        }
        if (self.buffer.len() as i64) < PAGE {
            self.done = true;
        }
        if let Some((id, _, _)) = self.buffer.back() {
            self.after = *id;
        }
        Ok(())
    }
}

impl<T> Iterator for Rows<'_, T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            self.done = true;
            return Some(Err(e));
        }
        let (row, cols, data) = self.buffer.pop_front()?;
        Some((self.convert)(row, &cols, &data))
    }
}
