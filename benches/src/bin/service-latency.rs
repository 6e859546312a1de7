//! Request latency of the service: grants over HTTP against a simulated Coupa tenant with no
//! added latency. Each call is a grant that writes (alternating with its revoke), through the
//! full stack: HTTP, bearer check, the connector's read, write and verification against the
//! simulator.
//!
//! ```text
//! cargo build --release -p benches --bins
//! target/release/service-latency 1000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_sdk::MemoryStore;
use connector_service::{Auth, Service, ServiceConfig};
use coupa_connector::{ConnectorConfig, CoupaConnector, ids};
use coupa_sim::{CoupaSim, Tenant};

/// The bearer token of the service measured.
const TOKEN: &str = "service-latency-benchmark-token-0123456789";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let config = benches::sim_config(&sim)?;
    let connector = CoupaConnector::new(ConnectorConfig::new(config))?;
    let service = Service::new(
        connector.registry(),
        Arc::new(MemoryStore::new()),
        ServiceConfig::new(Auth::bearer(TOKEN)?).with_schedule(false),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(service.serve(listener, std::future::pending()));
    let http = reqwest::Client::new();
    let (group, user) = (ids::member_of(ids::GROUP, 11), ids::user(3));
    let url = format!("{base}/v1/entitlements/{group}/principals/{user}");
    let mut grants = Vec::with_capacity(calls);
    let mut revokes = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let response = http.put(&url).bearer_auth(TOKEN).send().await?;
        let elapsed = started.elapsed();
        if response.status() != 200 {
            return Err(format!("grant answered {}", response.status()).into());
        }
        grants.push(elapsed);
        let started = Instant::now();
        let response = http.delete(&url).bearer_auth(TOKEN).send().await?;
        revokes.push(started.elapsed());
        if response.status() != 200 {
            return Err(format!("revoke answered {}", response.status()).into());
        }
    }
    let quantile = |samples: &mut Vec<Duration>, q: f64| {
        samples.sort();
        let at = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[at].as_secs_f64() * 1000.0
    };
    println!("| call | calls | p50 | p99 |");
    println!("|---|---|---|---|");
    for (name, samples) in [("grant", &mut grants), ("revoke", &mut revokes)] {
        println!(
            "| {name} | {calls} | {:.2} ms | {:.2} ms |",
            quantile(samples, 0.5),
            quantile(samples, 0.99)
        );
    }
    Ok(())
}
