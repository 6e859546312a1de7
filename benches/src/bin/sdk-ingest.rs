//! Scale harness: the sync engine with `SqliteStore` (a WAL file in a temporary directory; a
//! PostgreSQL schema when `BENCH_DATABASE_URL` names a database) ingesting the SDK's fake connector in its bulk shape (list-only, memberships on user rows),
//! with no I/O.
//!
//! ```text
//! cargo run --release -p benches --bin sdk-ingest -- [USERS] [GRANTS_PER_USER] [WORKERS]
//! ```
//!
//! Defaults: 99 000 users, 1 000 groups and 2 roles (100 k resources), 10 group memberships
//! and one role per user (1.089 M grants), 4 workers.

use std::time::Instant;

use benches::{BenchStore, peak_rss_bytes};
use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{SyncConfig, SyncEngine};
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
    let bench = BenchStore::open("sdk-ingest")?;
    let store = bench.queue();
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
    println!("store               {}", bench.label());
    // The two steps after the last page, timed again on the stored run: sealing (SQLite: the
    // sorted copy of the grants, into an emptied copy; PostgreSQL: statistics only) and the
    // integrity check.
    if let BenchStore::Sqlite { dir, .. } = &bench {
        let sqlite = rusqlite::Connection::open(dir.join("sync.db"))?;
        sqlite.execute(
            "DELETE FROM grants WHERE run_id = ?1",
            [report.run.to_string()],
        )?;
    }
    let started = Instant::now();
    store.seal_run(report.run)?;
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
    drop((engine, store));
    bench.close()?;
    Ok(())
}
