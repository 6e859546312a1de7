//! Benchmarks and scale harnesses.
//!
//! * `cargo bench -p benches`: criterion micro-benchmarks.
//! * `cargo run --release -p benches --bin sdk-ingest`: the sync engine with [`SqliteStore`]
//!   ingesting the SDK's fake connector in its bulk shape, with no I/O (100 k resources,
//!   1.1 M grants by default); prints grants stored per second and peak RSS.
//!
//! [`SqliteStore`]: connector_sdk::SqliteStore

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if the platform reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A client configuration for the simulated tenant `sim`, with no client-side rate limit.
pub fn sim_config(sim: &coupa_sim::CoupaSim) -> Result<coupa_client::Config, coupa_client::Error> {
    coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret())
}

/// The store a harness syncs into: a SQLite file in a temporary directory, or, when
/// `BENCH_DATABASE_URL` names a PostgreSQL database, a schema of its own there (dropped at the
/// end), so one harness compares both on the same machine.
pub enum BenchStore {
    /// A SQLite file (WAL beside it) in a directory of its own.
    Sqlite {
        /// The store.
        store: std::sync::Arc<connector_sdk::SqliteStore>,
        /// The directory holding the file.
        dir: std::path::PathBuf,
    },
    /// A PostgreSQL schema.
    Postgres(std::sync::Arc<connector_sdk::PostgresStore>),
}

impl BenchStore {
    /// Opens the store for the harness `name`.
    pub fn open(name: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let unique = format!("{name}_{}", std::process::id()).replace('-', "_");
        match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let store = connector_sdk::PostgresStore::options(&url)?
                    .schema(format!("bench_{unique}"))
                    .connect()?;
                Ok(Self::Postgres(std::sync::Arc::new(store)))
            }
            _ => {
                let dir = std::env::temp_dir().join(unique);
                std::fs::create_dir_all(&dir)?;
                let store = connector_sdk::SqliteStore::open(dir.join("sync.db"))?;
                Ok(Self::Sqlite {
                    store: std::sync::Arc::new(store),
                    dir,
                })
            }
        }
    }

    /// The store as the engine takes it.
    pub fn queue(&self) -> std::sync::Arc<dyn connector_sdk::backend::WorkQueue> {
        match self {
            Self::Sqlite { store, .. } => store.clone(),
            Self::Postgres(store) => store.clone(),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Deletes what the harness stored, unless `BENCH_KEEP` is set (to look at it afterwards:
    /// the SQLite directory or the PostgreSQL schema is printed).
    pub fn close(self) -> Result<(), Box<dyn std::error::Error>> {
        if std::env::var_os("BENCH_KEEP").is_some() {
            match &self {
                Self::Sqlite { dir, .. } => println!("kept               {}", dir.display()),
                Self::Postgres(store) => println!("kept               {}", store.describe()),
            }
            return Ok(());
        }
        match self {
            Self::Sqlite { store, dir } => {
                drop(store);
                std::fs::remove_dir_all(dir)?;
            }
            Self::Postgres(store) => store.drop_schema()?,
        }
        Ok(())
    }
}
