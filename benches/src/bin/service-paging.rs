//! Paging the service's listings: a run of the SDK's fake connector in its bulk shape (USERS
//! users, one group every user is a member of) synced into a SQLite file, then served; pages of
//! 100 read one after another through the HTTP API: all users, all grants of the group, and all
//! grants of one user.
//!
//! ```text
//! cargo build --release -p benches --bins
//! target/release/service-paging 100000
//! ```

use std::sync::Arc;
use std::time::Instant;

use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{SqliteStore, SyncConfig, SyncEngine};
use connector_service::{Auth, Service, ServiceConfig};
use tokio_util::sync::CancellationToken;

/// The bearer token of the service measured.
const TOKEN: &str = "service-paging-benchmark-token-0123456789";

/// Reads every page of `first`; returns the items and the pages.
async fn page_all(
    http: &reqwest::Client,
    first: &str,
    key: &str,
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let (mut items, mut pages) = (0, 0);
    let mut token: Option<String> = None;
    loop {
        let url = match &token {
            Some(t) => format!("{first}&page_token={}", urlencode(t)),
            None => first.to_owned(),
        };
        let page: serde_json::Value = http
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        pages += 1;
        items += page[key].as_array().map_or(0, Vec::len);
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok((items, pages)),
        }
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("paging.db"))?);
    let tenant = FakeTenant::new(Shape::bulk(users, 1, 1, 500));
    SyncEngine::new(
        tenant.registry(),
        store.clone(),
        SyncConfig::default().with_workers(4),
    )
    .run(&CancellationToken::new())
    .await?;
    let service = Service::new(
        tenant.registry(),
        store,
        ServiceConfig::new(Auth::bearer(TOKEN)?).with_schedule(false),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(service.serve(listener, std::future::pending()));
    let http = reqwest::Client::new();
    println!("| listing | items | pages | wall time | per page |");
    println!("|---|---|---|---|---|");
    for (name, url, key) in [
        (
            "users",
            format!("{base}/v1/resources?type=user"),
            "resources",
        ),
        (
            "grants of the group",
            format!("{base}/v1/grants?entitlement=group:1:member"),
            "grants",
        ),
        (
            "grants of one user",
            format!("{base}/v1/grants?principal=user:1"),
            "grants",
        ),
    ] {
        let started = Instant::now();
        let (items, pages) = page_all(&http, &url, key).await?;
        let wall = started.elapsed().as_secs_f64();
        println!(
            "| {name} | {items} | {pages} | {wall:.2} s | {:.2} ms |",
            wall * 1000.0 / pages as f64
        );
    }
    Ok(())
}
