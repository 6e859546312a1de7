//! Scale harness for ConductorOne service mode: a simulated Coupa tenant served by a
//! `sim-server` child process, c1-service-mode's fake control plane in this process (keeping
//! only sizes and checksums of uploads), and the Coupa connector in service mode. Measures a
//! full-sync task and a grant task from the moment the task is queued until its FinishTask
//! arrives: wall time, requests to Coupa, upload size, and this process's peak RSS.
//!
//! ```text
//! cargo build --release -p benches --bins
//! target/release/c1-task fast 100000        # 20 ms latency, no rate limit, 16 workers
//! target/release/c1-task realistic 100000   # 200 ms latency, 25 requests/s limit, 12 workers
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::peak_rss_bytes;
use c1_service_mode::testing::{FakeControlPlane, ScriptedTask, TaskResult};
use c1_service_mode::{Config, ServiceMode};
use connector_sdk::{EntitlementId, ResourceId, SqliteStore, Store, SyncConfig};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use secrecy::SecretString;

fn rss() -> String {
    peak_rss_bytes().map_or("n/a".to_owned(), |b| {
        format!("{:.0} MiB", b as f64 / 1_048_576.0)
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs to stderr when RUST_LOG asks (e.g. `RUST_LOG=c1z=debug,c1_service_mode=debug`).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let (name, latency_ms, sim_limit, client_limit, workers) = match args.next().as_deref() {
        Some("fast") | None => ("20 ms latency, no limit", 20, 0, None, 16),
        Some("realistic") => ("200 ms latency, 25 req/s limit", 200, 1, Some(25), 12),
        Some(other) => return Err(format!("unknown setting {other:?}: fast or realistic").into()),
    };
    let users: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let sim_server = std::env::current_exe()?.with_file_name("sim-server");
    let mut child = Command::new(&sim_server)
        .args([
            users.to_string(),
            latency_ms.to_string(),
            sim_limit.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let config = coupa_client::Config::with_base_url(
        line.trim(),
        coupa_sim::CLIENT_ID,
        SecretString::from(coupa_sim::CLIENT_SECRET),
    )?
    .with_rate_limit(client_limit);
    let connector = CoupaConnector::new(ConnectorConfig::new(config))?;
    let plane = FakeControlPlane::start().await;
    plane.discard_upload_bytes();
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("c1.db"))?);
    let mode = ServiceMode::new(
        connector.registry(),
        store.clone(),
        Config::new(plane.client_id(), plane.client_secret())?
            .with_ca_bundle_pem(plane.ca_pem())
            .with_provisioning(true)
            .with_min_poll(Duration::from_millis(10))
            .with_temp_dir(dir.path())
            .with_sync(SyncConfig::default().with_workers(workers)),
    )?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(mode.run(async move {
        let _ = stopped.await;
    }));
    plane
        .wait_for(Duration::from_secs(30), |p| !p.hellos().is_empty())
        .await;

    println!("| task | setting | users | wall time | requests to Coupa | upload | peak RSS |");
    println!("|---|---|---|---|---|---|---|");
    let before = connector.http_stats().requests;
    let started = Instant::now();
    plane.push(ScriptedTask::sync_full());
    let finished = plane.wait_finished(1, Duration::from_secs(1800)).await;
    let wall = started.elapsed();
    if !matches!(
        finished.first().map(|f| &f.result),
        Some(TaskResult::Success { .. })
    ) {
        return Err(format!("the sync task did not succeed: {finished:?}").into());
    }
    let upload = plane.uploads().first().cloned().ok_or("no upload")?;
    if !upload.checksum_ok {
        return Err("the upload's checksum did not match".into());
    }
    println!(
        "| sync_full | {name} | {users} | {:.1} s | {} | {:.1} MiB in {} chunks | {} |",
        wall.as_secs_f64(),
        connector.http_stats().requests - before,
        upload.size as f64 / 1_048_576.0,
        upload.chunks.len(),
        rss()
    );

    // A grant of group 1 to the first synced user.
    let run = store.runs()?.into_iter().next_back().ok_or("no run")?.id;
    let user = store
        .resources_page(run, &"user".into(), None, 1)?
        .into_iter()
        .next()
        .ok_or("no user")?
        .id;
    let group = EntitlementId::new(ResourceId::new("group", "1"), "member");
    let before = connector.http_stats().requests;
    let started = Instant::now();
    plane.push(ScriptedTask::grant(&group, &user));
    let finished = plane.wait_finished(2, Duration::from_secs(60)).await;
    let wall = started.elapsed();
    let outcome = match finished.get(1).map(|f| &f.result) {
        Some(TaskResult::Success { annotations, .. }) if annotations.is_empty() => "granted",
        Some(TaskResult::Success { .. }) => "already granted",
        other => return Err(format!("the grant task did not succeed: {other:?}").into()),
    };
    println!(
        "| grant ({outcome}) | {name} | {users} | {:.0} ms | {} | - | {} |",
        wall.as_secs_f64() * 1000.0,
        connector.http_stats().requests - before,
        rss()
    );
    let _ = stop.send(());
    running.await?;
    drop(child.stdin.take());
    child.wait()?;
    Ok(())
}
