//! What can go wrong reading or writing a `.c1z`.

use std::path::PathBuf;

use connector_sdk::{RunId, StoreError};

/// An error reading or writing a `.c1z` file. Corrupt input is always an error, never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with `C1ZF\0`.
    #[error("not a .c1z file: it starts with {found:02x?}, not \"C1ZF\\0\"")]
    BadHeader {
        /// The first bytes found (at most 5).
        found: Vec<u8>,
    },
    /// The file is in baton's newer Pebble container (`C1Z3`), which this crate does not read.
    #[error(
        "this .c1z uses baton's newer C1Z3 (Pebble) container, which is not supported: export it \
         with SQLite storage (the v1 format) and read that file"
    )]
    PebbleContainer,
    /// The compressed payload is corrupt or truncated.
    #[error("the compressed payload is corrupt or truncated")]
    Decompress(#[source] std::io::Error),
    /// The decompressed database is larger than the reader allows.
    #[error("the decompressed database exceeds {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// The SQLite database inside failed (or the one being written). The source is SQLite's
    /// error, for `downcast_ref` by a caller that wants it; no SQLite type is in this crate's API.
    #[error("the database inside the .c1z")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store being exported failed.
    #[error("the store being exported")]
    Store(#[from] StoreError),
    /// The run to export is not a completed one.
    #[error("run {0} is not completed: only a completed run is exported")]
    RunNotCompleted(RunId),
    /// A blob does not decode as the message its table holds.
    #[error("{table} row {row}: the blob is not a valid {message}")]
    Blob {
        /// The table.
        table: &'static str,
        /// The row id.
        row: i64,
        /// The expected message.
        message: &'static str,
        /// The decoder's error, when decoding failed (otherwise a required field is missing).
        #[source]
        source: Option<prost::DecodeError>,
    },
    /// A row's columns disagree with its blob.
    #[error(
        "{table} row {row}: column {column} is {column_value:?} but the blob says {blob_value:?}"
    )]
    Mismatch {
        /// The table.
        table: &'static str,
        /// The row id.
        row: i64,
        /// The column.
        column: &'static str,
        /// What the column holds.
        column_value: String,
        /// What the blob says.
        blob_value: String,
    },
    /// The file's latest finished sync was written from another tenant (or other settings)
    /// than the run being written: a `.c1z` holds one tenant, so nothing was written.
    /// [`crate::Writer::with_fingerprint_change`] lets it go ahead.
    #[error(
        "the file's latest sync {sync_id} is of {file:?}, not of {run:?}: a .c1z holds one \
         tenant (write another file, or allow the change explicitly)"
    )]
    OtherFingerprint {
        /// The file's latest finished sync.
        sync_id: String,
        /// Its fingerprint.
        file: String,
        /// The fingerprint of the run being written.
        run: String,
    },
    /// The file holds no finished sync (or not the one asked for).
    #[error("{0}")]
    NoSync(String),
    /// The database is not a v1 `.c1z` database.
    #[error("not a v1 .c1z database: {0}")]
    Schema(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// Turns SQLite's errors into [`Error::Database`] without a public conversion from its type.
pub(crate) trait Database<T> {
    fn database(self) -> Result<T, Error>;
}

impl<T> Database<T> for rusqlite::Result<T> {
    fn database(self) -> Result<T, Error> {
        self.map_err(|e| Error::Database(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_failures_keep_sqlites_error_as_the_source() {
        let err = Err::<(), _>(rusqlite::Error::InvalidQuery)
            .database()
            .unwrap_err();
        assert_eq!(err.to_string(), "the database inside the .c1z");
        let source = std::error::Error::source(&err).expect("a source");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
    }
}
