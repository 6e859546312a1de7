//! The stores every conformance test runs against: memory, SQLite and PostgreSQL.
//!
//! PostgreSQL runs when `TEST_DATABASE_URL` names a database the tests may create schemas in
//! (CI always sets it); each test gets a schema of its own, dropped when the test ends. Without
//! the variable the PostgreSQL tests are ignored, which `cargo test` shows with its reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use connector_sdk::backend::WorkQueue;
use connector_sdk::journal::Journal;
use connector_sdk::{MemoryStore, PostgresStore, SqliteStore};

/// A store under test, as the engine and the journal see it.
pub struct Backend {
    pub store: Arc<dyn WorkQueue>,
    pub journal: Arc<dyn Journal>,
    /// A PostgreSQL store's own, to drop its schema at the end.
    postgres: Option<Arc<PostgresStore>>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(Err(e)) = self.postgres.take().map(|store| store.drop_schema()) {
            eprintln!("cannot drop the test schema: {e}");
        }
    }
}

pub fn memory() -> Backend {
    let store = Arc::new(MemoryStore::new());
    Backend {
        store: store.clone(),
        journal: store,
        postgres: None,
    }
}

pub fn sqlite() -> Backend {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    Backend {
        store: store.clone(),
        journal: store,
        postgres: None,
    }
}

/// The database of the PostgreSQL tests.
pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL names the PostgreSQL database of these tests")
}

/// A schema no other test of any process uses.
pub fn fresh_schema() -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "test_{}_{}_{nanos}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// A PostgreSQL store in a schema of its own.
pub fn postgres() -> Backend {
    postgres_in(&fresh_schema())
}

/// A PostgreSQL store in `schema` (a second host on the same store, when called twice).
pub fn postgres_in(schema: &str) -> Backend {
    let store = Arc::new(
        PostgresStore::options(&database_url())
            .unwrap()
            .schema(schema)
            .max_connections(4)
            .connect()
            .unwrap(),
    );
    Backend {
        store: store.clone(),
        journal: store.clone(),
        postgres: Some(store),
    }
}

/// The same check against every store: `every_store!(name, |backend| async move { … })` makes
/// a module `name` with the tests `memory`, `sqlite` and `postgres`.
macro_rules! every_store {
    ($name:ident, $check:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn memory() {
                ($check)($crate::backends::memory()).await;
            }

            #[tokio::test]
            async fn sqlite() {
                ($check)($crate::backends::sqlite()).await;
            }

            #[tokio::test]
            #[cfg_attr(
                no_test_database,
                ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
            )]
            async fn postgres() {
                ($check)($crate::backends::postgres()).await;
            }
        }
    };
}
