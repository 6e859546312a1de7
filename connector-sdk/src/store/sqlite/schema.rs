//! The schema: creating a file, migrating an older one, the settings every connection gets.

use super::*;

const SCHEMA: &str = include_str!("../schema.sql");

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

impl SqliteStore {
    pub(super) fn init(conn: Connection) -> Result<Self, StoreError> {
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
            reader: None,
        })
    }

    /// A second connection to the same file for the host's queries, read-only: in WAL mode it
    /// reads the last committed state while the engine writes (or seals a run) on the first.
    pub(super) fn with_reader(mut self, path: &std::path::Path) -> Result<Self, StoreError> {
        use rusqlite::OpenFlags;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .backend()?;
        reader.pragma_update(None, "busy_timeout", 5000).backend()?;
        reader.pragma_update(None, "cache_size", -8192).backend()?;
        self.reader = Some(Mutex::new(reader));
        Ok(self)
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
            .begin_run(&BeginRun::new(
                "c",
                &crate::Fingerprint::new("tenant", "c|tenant"),
                &holder,
            ))
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

#[cfg(test)]
mod reader_tests {
    use super::*;
    use crate::Store;

    #[test]
    fn queries_of_a_file_do_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("r.db")).unwrap());
        // The engine's connection is busy (as while it seals a run) ...
        let writer = store.conn().unwrap();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        // ... and a host's query answers anyway, from the last committed state.
        let reading = std::sync::Arc::clone(&store);
        let answer = std::thread::spawn(move || reading.runs().map(|runs| runs.len()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !answer.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(answer.is_finished(), "the query waited for the writer");
        assert_eq!(answer.join().unwrap().unwrap(), 0);
        writer.execute_batch("ROLLBACK").unwrap();
    }
}
