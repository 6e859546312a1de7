//! Scale harness: the sync engine with `SqliteStore` (a WAL file in a temporary directory)
//! ingesting the SDK's fake connector in its bulk shape (list-only, memberships on user rows),
//! with no I/O.
//!
//! ```text
//! cargo run --release -p benches --bin sdk-ingest -- [USERS] [GRANTS_PER_USER] [WORKERS]
//! ```
//!
//! Defaults: 99 000 users, 1 000 groups and 2 roles (100 k resources), 10 group memberships
//! and one role per user (1.089 M grants), 4 workers.

use std::sync::Arc;
use std::time::Instant;

use benches::peak_rss_bytes;
use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{SqliteStore, Store, SyncConfig, SyncEngine};
use tokio_util::sync::CancellationToken;

fn arg(n: usize, default: u32) -> u32 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (users, groups, per_user) = (arg(1, 99_000), 1_000, arg(2, 10));
    let shape = Shape::bulk(users, groups, per_user, 100);
    let expected_grants = u64::from(users) * u64::from(per_user.min(groups) + 1);
    let expected_resources = shape.resource_count();
    let workers = usize::try_from(arg(3, 4))?;
    let dir = std::env::temp_dir().join(format!("sdk-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("ingest.db");
    let store = Arc::new(SqliteStore::open(&path)?);
    let engine = SyncEngine::new(
        FakeTenant::new(shape).registry(),
        store.clone(),
        SyncConfig::default().with_workers(workers),
    );
    let started = Instant::now();
    let report = engine.run(&CancellationToken::new()).await?;
    let secs = started.elapsed().as_secs_f64();
    let grants = report.counts.total_grants();
    let resources = report.counts.total_resources();
    assert_eq!(grants, expected_grants, "every grant stored");
    assert_eq!(resources, expected_resources, "every resource stored");
    let db_bytes = std::fs::metadata(&path)?.len()
        + std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
    println!("resources           {resources}");
    println!("grants              {grants}");
    println!("pages               {}", report.progress.pages);
    println!("workers             {workers}");
    println!("wall time           {secs:.2} s");
    println!("grants/s            {:.0}", grants as f64 / secs);
    println!("resources/s         {:.0}", resources as f64 / secs);
    match peak_rss_bytes() {
        Some(b) => println!("peak RSS            {:.1} MiB", b as f64 / 1048576.0),
        None => println!("peak RSS            unavailable"),
    }
    println!("database size       {:.1} MiB", db_bytes as f64 / 1048576.0);
    // The two steps after the last page, timed again on the stored run: the sorted copy of the
    // grants (sealing, into an emptied copy) and the integrity check.
    let sqlite = rusqlite::Connection::open(&path)?;
    sqlite.execute(
        "DELETE FROM grants WHERE run_id = ?1",
        [report.run.to_string()],
    )?;
    drop(sqlite);
    let started = Instant::now();
    connector_sdk::backend::WorkQueue::seal_run(store.as_ref(), report.run)?;
    println!(
        "seal (again)        {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let (issues, _) = store.integrity_issues(report.run, 10)?;
    println!(
        "integrity (again)   {:.2} s ({issues} issues)",
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
