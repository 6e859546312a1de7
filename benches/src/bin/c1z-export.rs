//! Export harness for `.c1z` files: a simulated Coupa tenant is synced into SQLite by a child
//! process, then this process exports the completed run as a `.c1z` and reports the time, the
//! file size and its own peak RSS (the export alone).
//!
//! ```text
//! cargo build --release -p benches --bins
//! target/release/c1z-export 100000
//! ```

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use benches::peak_rss_bytes;
use connector_sdk::{RunStatus, SqliteStore, Store, SyncConfig, SyncEngine};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use coupa_sim::{CoupaSim, Sizes, Tenant};
use tokio_util::sync::CancellationToken;

/// Syncs a generated tenant of `users` into the SQLite file `db`.
async fn prepare(users: usize, db: &str) -> Result<(), Box<dyn std::error::Error>> {
    let sim = CoupaSim::start(Tenant::generate(7, Sizes::users(users))).await;
    let config = benches::sim_config(&sim)?;
    let connector = CoupaConnector::new(ConnectorConfig::new(config))?;
    let store = Arc::new(SqliteStore::open(db)?);
    SyncEngine::new(
        connector.registry(),
        store,
        SyncConfig::default().with_workers(8),
    )
    .run(&CancellationToken::new())
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("prepare") {
        let users = args
            .get(1)
            .and_then(|a| a.parse().ok())
            .ok_or("prepare USERS DB")?;
        let db = args.get(2).ok_or("prepare USERS DB")?;
        return prepare(users, db).await;
    }
    let users: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("c1z-export-{}-{users}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("sync.db");
    let db_text = db.to_str().ok_or("temporary path is not UTF-8")?;
    let prepared = Command::new(std::env::current_exe()?)
        .args(["prepare", &users.to_string(), db_text])
        .status()?;
    if !prepared.success() {
        return Err("the sync that prepares the run failed".into());
    }
    let store = SqliteStore::open(&db)?;
    let run = store
        .runs()?
        .into_iter()
        .rev()
        .find(|r| r.status == RunStatus::Completed)
        .ok_or("no completed run")?
        .id;
    let grants = store.counts(run)?.total_grants();
    let out = dir.join("export.c1z");
    let started = Instant::now();
    let report = c1z::Writer::new().write(&store, run, &out)?;
    let wall = started.elapsed().as_secs_f64();
    let rss = peak_rss_bytes().map_or("n/a".to_owned(), |b| {
        format!("{:.0} MiB", b as f64 / 1_048_576.0)
    });
    println!("| users | resources | grants | wall time | .c1z size | peak RSS |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {users} | {} | {grants} | {wall:.1} s | {:.1} MiB | {rss} |",
        report.resources,
        report.bytes as f64 / 1_048_576.0
    );
    assert_eq!(report.grants, grants);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
