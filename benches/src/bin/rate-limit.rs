//! Rate-limit harness: a 10 k-user simulated tenant at 200 ms latency behind a leaky bucket
//! (holding 20 requests, draining 25 or 10 a second), served by a `sim-server` child process,
//! synced with the default settings (8 workers, the client's default rate limit). Reports the
//! requests answered, those answered 429, the wall time and the time the bucket allows
//! (answered / rate).
//!
//! ```text
//! cargo build --release -p benches --bins
//! target/release/rate-limit 25 10
//! target/release/rate-limit 10 --curve   # also the limiter's rate and the 429s, each second
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use connector_sdk::{MemoryStore, SyncConfig, SyncEngine};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let curve = std::env::args().any(|a| a == "--curve");
    let rates: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rates = if rates.is_empty() {
        vec![25, 10]
    } else {
        rates
    };
    let users = 10_000;
    let sim_server = std::env::current_exe()?.with_file_name("sim-server");
    println!(
        "| bucket | requests answered | answered 429 | wall time | limit-bound time | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for rate in rates {
        let mut child = Command::new(&sim_server)
            .args([
                users.to_string(),
                "200".into(),
                "1".into(),
                rate.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        // The defaults a user gets: production retries and the default client-side limit.
        let budget = coupa_client::Budget::new(Some(25));
        let config = coupa_client::Config::with_base_url(
            line.trim(),
            coupa_sim::CLIENT_ID,
            SecretString::from(coupa_sim::CLIENT_SECRET),
        )?
        .with_budget(budget.clone());
        let connector = CoupaConnector::new(ConnectorConfig::new(config))?;
        let engine = SyncEngine::new(
            connector.registry(),
            Arc::new(MemoryStore::new()),
            SyncConfig::default().with_workers(8),
        );
        let started = Instant::now();
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sampler = {
            let (budget, samples) = (budget.clone(), samples.clone());
            tokio::spawn(async move {
                loop {
                    let rate = budget.current_rate().unwrap_or(0.0);
                    let limited = budget.stats().rate_limit_waits;
                    if let Ok(mut samples) = samples.lock() {
                        samples.push((started.elapsed().as_secs(), rate, limited));
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            })
        };
        engine.run(&CancellationToken::new()).await?;
        let wall = started.elapsed().as_secs_f64();
        sampler.abort();
        if curve {
            println!("seconds | limiter rate | 429s so far");
            for (at, rate, limited) in samples.lock().map(|s| s.clone()).unwrap_or_default() {
                println!("{at:>7} | {rate:>12.1} | {limited:>11}");
            }
        }
        drop(child.stdin.take());
        child.wait()?;
        let stats = connector.http_stats();
        let limited = stats.rate_limit_waits;
        let answered = stats.requests - limited;
        let bound = answered as f64 / f64::from(rate);
        println!(
            "| {rate}/s | {answered} | {limited} ({:.1} %) | {wall:.1} s | {bound:.1} s | {:.2} |",
            100.0 * limited as f64 / stats.requests as f64,
            wall / bound
        );
    }
    Ok(())
}
