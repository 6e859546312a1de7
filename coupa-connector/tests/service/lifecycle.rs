//! Left running: slow and idle clients, shutdown with work in flight, a scheduler that cannot
//! start, liveness, tokens and the audit trail.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_sdk::backend::{BeginRun, WorkQueue};
use connector_sdk::{Holder, SqliteStore};
use connector_service::{Auth, TokenError};
use coupa_sim::{CoupaSim, SimOptions, Tenant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{TOKEN, serve, serve_at, serve_store};

/// Whether the server closes `socket` within `within` (a read sees the end of the stream).
async fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn shutdown_with_a_half_sent_request_ends_within_the_deadline() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    // Slow clients are not closed by the header timeout before shutdown in this test.
    let running = serve(&sim, |c| {
        c.with_header_read_timeout(Duration::from_secs(120))
    })
    .await;
    let mut half = TcpStream::connect(running.addr()).await.unwrap();
    half.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(running.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let began = Instant::now();
    running.stop().await;
    let took = began.elapsed();
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    assert!(closed_within(&mut half, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_and_capped() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let running = serve(&sim, |c| {
        c.with_header_read_timeout(Duration::from_millis(500))
            .with_max_connections(4)
    })
    .await;
    // A keep-alive connection that went idle after one request is closed.
    let mut kept = TcpStream::connect(running.addr()).await.unwrap();
    kept.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // A client that never finishes its header is closed too.
    let mut slow = TcpStream::connect(running.addr()).await.unwrap();
    slow.write_all(b"GET /livez HTTP/1.1\r\n").await.unwrap();
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await);
    assert!(closed_within(&mut slow, Duration::from_secs(3)).await);

    // Ten idle sockets against a cap of four: the server never holds more than four open, and
    // still answers once the idle ones time out.
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(TcpStream::connect(running.addr()).await.unwrap());
    }
    let metrics = tokio::time::timeout(Duration::from_secs(10), async {
        running
            .http
            .get(running.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await
    .expect("served once idle connections timed out");
    let open: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("connector_http_connections "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=4).contains(&open), "{open} connections open");
    for socket in &mut idle {
        assert!(closed_within(socket, Duration::from_secs(10)).await);
    }
    running.stop().await;
}

#[tokio::test]
async fn a_role_removal_in_flight_at_shutdown_finishes() {
    // Every answer takes 300 ms; Coupa keeps a removed role on a plain write, so the removal
    // is a clear and then a set, and shutdown arrives between them.
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_latency(Duration::from_millis(300)),
    )
    .await;
    let before = sim.tenant().users[&1].roles.clone();
    assert!(before.len() > 1 && before.contains(&1), "{before:?}");
    let running = serve(&sim, |c| c).await;
    let request = running
        .authed(
            reqwest::Method::DELETE,
            "/v1/entitlements/role:1:member/principals/user:1",
        )
        .send();
    let call = tokio::spawn(request);
    // The clear is the third request (read, plain write, clear).
    let watcher = sim.clone();
    tokio::time::timeout(Duration::from_secs(10), async move {
        while watcher.count("PUT", "/api/users/1") < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let began = Instant::now();
    running.stop().await;
    assert!(began.elapsed() < Duration::from_secs(10));
    let after = sim.tenant().users[&1].roles.clone();
    let expected: std::collections::BTreeSet<i64> =
        before.iter().copied().filter(|r| *r != 1).collect();
    assert_eq!(
        after, expected,
        "the removal finished, nothing else was lost"
    );
    let _ = call.await;
}

#[tokio::test]
async fn a_sync_that_cannot_start_is_retried_soon_not_after_the_interval() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("service.db");
    // Another host holds an unfinished run of the connector, with a fresh heartbeat.
    let other = Holder::new("elsewhere:7:1", 7, "elsewhere");
    let store = SqliteStore::open(&db).unwrap();
    let fingerprint = crate::coupa(&sim).registry().fingerprint();
    let held = store
        .begin_run(&BeginRun::new("coupa", &fingerprint, &other))
        .unwrap();
    let running = serve_at(&sim, &db, |c| c.with_schedule(true)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        running
            .call(reqwest::Method::GET, "/v1/syncs/latest")
            .await
            .status(),
        200
    );
    store.release_run(held.run, &other.id).unwrap();
    // The schedule's interval is an hour; the retry comes within seconds.
    let mut completed = false;
    for _ in 0..200 {
        let body = running.get_json("/v1/syncs/latest").await;
        if body["status"] == "completed" {
            completed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(completed, "a sync completed after the other holder let go");
    running.stop().await;
}

#[tokio::test]
async fn livez_names_the_background_tasks() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let running = serve(&sim, |c| c.with_schedule(true)).await;
    let response = running
        .http
        .get(running.url("/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"live": true})
    );
    running.stop().await;
}

#[test]
fn service_tokens_are_long_and_trimmed_once() {
    assert_eq!(
        Auth::bearer("x").unwrap_err(),
        TokenError::TooShort { chars: 1 }
    );
    let short = "a".repeat(31);
    let err = Auth::bearer(format!("  {short}\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the service token has 31 characters; at least 32 are required (generate one with \
         `openssl rand -hex 32`)"
    );
    assert!(Auth::bearer("a".repeat(32)).is_ok());
}

#[tokio::test]
async fn a_token_read_with_a_trailing_newline_still_matches() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let running = serve(&sim, |mut c| {
        c.auth = Auth::bearer(format!("{TOKEN}\n")).unwrap();
        c
    })
    .await;
    let status = running
        .call(reqwest::Method::GET, "/v1/syncs/latest")
        .await
        .status();
    assert_eq!(status, 404, "authenticated: no sync has run yet");
    running.stop().await;
}

/// Log lines written by the service while `f` runs, as JSON.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_change_is_one_audit_event() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter("audit=info")
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let running = serve(&sim, |c| c).await;
    let path = "/v1/entitlements/group:11:member/principals/user:3";
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        assert_eq!(running.call(method, path).await.status(), 200);
    }
    let bad = "/v1/entitlements/group:999:member/principals/user:3";
    assert_ne!(running.call(reqwest::Method::PUT, bad).await.status(), 200);
    running.stop().await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            let f = &e["fields"];
            assert_eq!(f["interface"], "http");
            assert!(
                f["actor"]
                    .as_str()
                    .unwrap()
                    .starts_with("bearer token from 127.0.0.1:"),
                "{f}"
            );
            assert_eq!(f["principal"], "user:3");
            (
                f["operation"].as_str().unwrap().to_owned(),
                f["entitlement"].as_str().unwrap().to_owned(),
                f["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        summary,
        [
            s("grant", "group:11:member", "granted"),
            s("revoke", "group:11:member", "revoked"),
            s("grant", "group:999:member", "failed"),
        ],
        "the repeated grant changed nothing and is not an audit event at info level"
    );
}

#[tokio::test]
async fn a_full_store_makes_the_service_not_ready_until_a_sync_completes() {
    let sim = CoupaSim::start(Tenant::generate(4, coupa_sim::Sizes::users(400))).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("service.db")).unwrap());
    store.set_max_size(64 * 1024).unwrap();
    let running = serve_store(&sim, Arc::clone(&store), |c| c).await;
    let readyz = || async {
        let response = running
            .http
            .get(running.url("/readyz"))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    for _ in 0..100 {
        if readyz().await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = running.call(reqwest::Method::POST, "/v1/syncs").await;
    let run = started.json::<serde_json::Value>().await.unwrap()["run"]
        .as_i64()
        .unwrap();
    let summary = running.wait_for(run).await;
    assert_eq!(summary["status"], "failed", "{summary}");
    let (status, body) = readyz().await;
    assert_eq!(status, 503);
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the last sync failed on the store: store error: the store is full"),
        "{reason}"
    );
    // Room again: the next sync completes and the service is ready.
    store.set_max_size(1 << 30).unwrap();
    let started = running.call(reqwest::Method::POST, "/v1/syncs").await;
    let run = started.json::<serde_json::Value>().await.unwrap()["run"]
        .as_i64()
        .unwrap();
    assert_eq!(running.wait_for(run).await["status"], "completed");
    assert_eq!(readyz().await.0, 200);
    running.stop().await;
}

#[tokio::test]
async fn another_tenants_runs_are_never_served_nor_mixed_in() {
    // A store synced from one tenant, then served for another (a simulated run in the real
    // tenant's store, or tenant B's service pointed at tenant A's file).
    let tenant_a = CoupaSim::start(Tenant::fixture()).await;
    let tenant_b = CoupaSim::start(Tenant::generate(2, coupa_sim::Sizes::users(120))).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("service.db");
    let a = serve_at(&tenant_a, &db, |c| c).await;
    let started = a.call(reqwest::Method::POST, "/v1/syncs").await;
    let run = started.json::<serde_json::Value>().await.unwrap()["run"]
        .as_i64()
        .unwrap();
    assert_eq!(a.wait_for(run).await["status"], "completed");
    let page: serde_json::Value = a.get_json("/v1/resources?type=user").await;
    assert_eq!(page["resources"].as_array().unwrap().len(), 3);
    a.stop().await;

    let b = serve_at(&tenant_b, &db, |c| c).await;
    let response = b
        .call(reqwest::Method::GET, "/v1/resources?type=user")
        .await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "no sync of this tenant has completed yet"
    );
    let refused = b.call(reqwest::Method::POST, "/v1/syncs").await;
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "other_tenant");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{}/", tenant_a.uri()))
            && message.contains(&format!("{}/", tenant_b.uri())),
        "both tenants are named: {message}"
    );
    let latest = b.call(reqwest::Method::GET, "/v1/syncs/latest").await;
    assert_eq!(latest.status(), 404, "no run of tenant B was begun");
    b.stop().await;
}

#[tokio::test]
async fn page_tokens_are_bound_to_their_run() {
    let sim = CoupaSim::start(Tenant::generate(3, coupa_sim::Sizes::users(250))).await;
    let running = serve(&sim, |c| c).await;
    for _ in 0..2 {
        let started = running.call(reqwest::Method::POST, "/v1/syncs").await;
        let run = started.json::<serde_json::Value>().await.unwrap()["run"]
            .as_i64()
            .unwrap();
        assert_eq!(running.wait_for(run).await["status"], "completed");
        if run == 1 {
            let page: serde_json::Value = running.get_json("/v1/resources?type=user").await;
            let token = page["next_page_token"].as_str().unwrap().to_owned();
            assert!(token.starts_with("1:"), "{token}");
            // Still served: the token works.
            let next = running
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/resources?type=user&page_token={token}"),
                )
                .await;
            assert_eq!(next.status(), 200);
        }
    }
    // Run 2 is served now: a token of run 1 is refused, not read against run 2.
    let stale = running
        .call(
            reqwest::Method::GET,
            "/v1/resources?type=user&page_token=1:user",
        )
        .await;
    assert_eq!(stale.status(), 409);
    let body: serde_json::Value = stale.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "page_token_stale");
    let user = "/v1/grants?principal=user:1&page_token=1:0";
    assert_eq!(running.call(reqwest::Method::GET, user).await.status(), 409);
    running.stop().await;
}
