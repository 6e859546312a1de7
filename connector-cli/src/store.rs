//! `--out`: a SQLite file, or a PostgreSQL database shared by many hosts and tenants.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use connector_sdk::backend::WorkQueue;
use connector_sdk::journal::Journal;
use connector_sdk::{PostgresOptions, PostgresStore, SqliteStore};

use crate::CliError;

/// Where runs are stored: `--out sync.db` or `--out postgres://user@host/db` (the password in
/// the URL, or in `PGPASSWORD`; what the URL leaves out comes from the `PG*` variables).
#[derive(Clone)]
pub enum StoreTarget {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PostgresOptions>),
    /// A `postgres://` URL that does not parse, with why (never the URL, which may hold a
    /// password): opening it fails with that reason. Parsing never fails on such a URL, so the
    /// command-line parser never repeats it in an error.
    Invalid(String),
}

impl FromStr for StoreTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if PostgresStore::is_url(text) {
            Ok(PostgresOptions::new(text).map_or_else(
                |e| Self::Invalid(connector_sdk::error_chain(&e)),
                |o| Self::Postgres(Box::new(o)),
            ))
        } else if text.is_empty() {
            Err("the store is a file path or a postgres:// URL".to_owned())
        } else {
            Ok(Self::File(PathBuf::from(text)))
        }
    }
}

/// The file's path, or the database as `postgres://user@host:port/db`: never a password.
impl fmt::Display for StoreTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => path.display().fmt(f),
            Self::Postgres(options) => write!(f, "postgres://{}", options.describe()),
            Self::Invalid(_) => f.write_str("postgres://(a URL that does not parse)"),
        }
    }
}

impl fmt::Debug for StoreTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreTarget({self})")
    }
}

/// A store the programs sync into and journal writes in.
pub(crate) trait CliStore: WorkQueue + Journal {}

impl<T: WorkQueue + Journal> CliStore for T {}

impl StoreTarget {
    /// Opens the store (a PostgreSQL database is migrated when it needs to be).
    pub(crate) async fn open(&self) -> Result<Arc<dyn CliStore>, CliError> {
        if let Self::Invalid(why) = self {
            return Err(CliError::usage(format!("--out: {why}")));
        }
        let target = self.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<Arc<dyn CliStore>, _> {
            match target {
                Self::File(path) => Ok(Arc::new(SqliteStore::open(path)?)),
                Self::Postgres(options) => Ok(Arc::new((*options).connect()?)),
                Self::Invalid(why) => Err(connector_sdk::StoreError::Backend(why.into())),
            }
        })
        .await
        .map_err(|e| CliError::failed("the store could not be opened").with_source(e))?;
        opened.map_err(|e: connector_sdk::StoreError| {
            CliError::failed(format!("cannot open {self}")).with_source(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_a_database_and_anything_else_a_file() {
        let db: StoreTarget = "postgres://sync:hunter2@db.internal:6432/identity"
            .parse()
            .unwrap();
        assert!(matches!(db, StoreTarget::Postgres(_)));
        assert_eq!(db.to_string(), "postgres://sync@db.internal:6432/identity");
        assert!(!format!("{db:?}").contains("hunter2"));
        let file: StoreTarget = "runs/acme.db".parse().unwrap();
        assert!(matches!(&file, StoreTarget::File(p) if p == &PathBuf::from("runs/acme.db")));
        assert_eq!(file.to_string(), "runs/acme.db");
        // A URL that does not parse is kept as why, never as the URL.
        let bad: StoreTarget = "postgres://sync:hunter2@db:port/x".parse().unwrap();
        let StoreTarget::Invalid(why) = &bad else {
            panic!("{bad:?}")
        };
        assert_eq!(
            why,
            "store backend failed: the PostgreSQL URL does not parse: invalid connection string"
        );
        assert!(!format!("{bad} {bad:?}").contains("hunter2"));
    }
}
