//! Scale harness for the Coupa sync: simulated tenants of several sizes, each served by a
//! `sim-server` child process, synced into SQLite by this process (into PostgreSQL when
//! `BENCH_DATABASE_URL` names a database). Reports requests against the
//! minimum, wall time and this process's peak RSS.
//!
//! ```text
//! cargo build --release -p benches --bins
//! target/release/coupa-scale realistic 10000 100000   # 200 ms latency, 25 requests/s limit
//! target/release/coupa-scale fast 20000               # 20 ms latency, no rate limit
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use benches::{BenchStore, peak_rss_bytes};
use connector_sdk::{SyncConfig, SyncEngine};
use coupa_connector::{ConnectorConfig, CoupaConnector, ids};
use coupa_sim::Sizes;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

struct Setting {
    name: &'static str,
    latency_ms: u64,
    sim_rate_limit: bool,
    client_rate_limit: Option<u32>,
    workers: usize,
}

/// Pages a sequential pager needs for `n` rows: every full page, plus the short (or empty) page
/// that shows the list ended.
fn pages(n: usize) -> u64 {
    (n / 50 + 1) as u64
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let setting = match args.next().as_deref() {
        Some("realistic") | None => Setting {
            name: "200 ms latency, 25 req/s limit",
            latency_ms: 200,
            sim_rate_limit: true,
            client_rate_limit: Some(24),
            workers: 12,
        },
        Some("fast") => Setting {
            name: "20 ms latency, no limit",
            latency_ms: 20,
            sim_rate_limit: false,
            client_rate_limit: None,
            workers: 16,
        },
        Some(other) => return Err(format!("unknown setting {other:?}: realistic or fast").into()),
    };
    let sizes: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    let sim_server = std::env::current_exe()?.with_file_name("sim-server");
    println!(
        "| setting | store | users | requests | minimum | wall time | limit-bound time | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for users in sizes {
        let mut child = Command::new(&sim_server)
            .args([
                users.to_string(),
                setting.latency_ms.to_string(),
                u8::from(setting.sim_rate_limit).to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let uri = line.trim().to_owned();
        // Production retries, not the test server's quick ones: this measures a real sync.
        let config = coupa_client::Config::with_base_url(
            &uri,
            coupa_sim::CLIENT_ID,
            SecretString::from(coupa_sim::CLIENT_SECRET),
        )?
        .with_rate_limit(setting.client_rate_limit);
        let connector = CoupaConnector::new(ConnectorConfig::new(config))?;
        let store = BenchStore::open(&format!("coupa-scale-{users}"))?;
        let engine = SyncEngine::new(
            connector.registry(),
            store.queue(),
            SyncConfig::default().with_workers(setting.workers),
        );
        let started = Instant::now();
        let report = engine.run(&CancellationToken::new()).await?;
        let wall = started.elapsed().as_secs_f64();
        drop(child.stdin.take());
        child.wait()?;
        let label = store.label();
        drop(engine);
        store.close()?;
        let s = Sizes::users(users);
        let minimum = 1
            + pages(users)
            + pages(s.user_groups)
            + pages(s.roles)
            + pages(s.account_groups)
            + pages(s.content_groups);
        let requests = connector.http_stats().requests;
        assert_eq!(report.counts.resources[&ids::USER.into()], users as u64);
        let rss = peak_rss_bytes().map_or("n/a".to_owned(), |b| {
            format!("{:.0} MiB", b as f64 / 1_048_576.0)
        });
        println!(
            "| {} | {label} | {users} | {requests} | {minimum} | {wall:.1} s | {:.1} s | {rss} |",
            setting.name,
            requests as f64 / 25.0
        );
    }
    Ok(())
}
