//! The `coupa-service` example binary, and the service crate serving the JSON-directory
//! connector (it is generic).

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{free_port, outcome};

pub(crate) const TOKEN: &str = "service-test-token-0123456789-abcdefgh";

#[test]
fn it_refuses_to_start_without_a_token() {
    let (code, _, stderr) = outcome(
        crate::command("coupa-service")
            .env_remove("SERVICE_TOKEN")
            .args(["--sim-fixture", "--listen", "127.0.0.1:0"]),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("SERVICE_TOKEN is not set: /v1 requires a bearer token"),
        "{stderr}"
    );
    // Nor without a tenant.
    let (code, _, stderr) = outcome(crate::command("coupa-service").env("SERVICE_TOKEN", TOKEN));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no Coupa tenant given"), "{stderr}");
}

#[test]
fn weak_tokens_open_addresses_and_endless_intervals_are_refused() {
    let cases: [(Option<&str>, &[&str], &str); 5] = [
        (
            Some("short"),
            &[],
            "SERVICE_TOKEN: the service token has 5 characters; at least 32 are required \
             (generate one with `openssl rand -hex 32`)",
        ),
        (
            None,
            &["--insecure-no-auth", "--listen", "0.0.0.0:0"],
            "--insecure-no-auth is refused on 0.0.0.0:0: only a loopback address",
        ),
        (
            Some(TOKEN),
            &["--insecure-no-auth"],
            "SERVICE_TOKEN and --insecure-no-auth contradict each other",
        ),
        (
            Some(TOKEN),
            &["--interval", "18446744073709551615s"],
            "is longer than a week (168h), the longest interval",
        ),
        (
            Some(TOKEN),
            &["--interval", "169h"],
            "is longer than a week (168h), the longest interval",
        ),
    ];
    for (token, args, expected) in cases {
        let mut command = crate::command("coupa-service");
        command
            .env_remove("SERVICE_TOKEN")
            .arg("--sim-fixture")
            .args(args);
        if let Some(token) = token {
            command.env("SERVICE_TOKEN", token);
        }
        let (code, _, stderr) = outcome(&mut command);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains(TOKEN), "{stderr}");
    }
}

/// The service for the tenant at `sim`, as a real one, storing into `db`.
fn service(sim: &coupa_sim::CoupaSim, db: &std::path::Path, port: u16) -> std::process::Child {
    service_command(sim, db.as_os_str(), port)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `coupa-service` for the tenant at `sim` on `port`, storing into `out` (a file or a
/// database URL); its output is the caller's to direct.
pub(crate) fn service_command(
    sim: &coupa_sim::CoupaSim,
    out: &std::ffi::OsStr,
    port: u16,
) -> Command {
    let mut command = crate::command("coupa-service");
    command
        .env("SERVICE_TOKEN", TOKEN)
        .env("COUPA_BASE_URL", sim.uri())
        .env("COUPA_CLIENT_ID", sim.client_id())
        .env("COUPA_CLIENT_SECRET", sim.client_secret())
        .args([
            "--rate-limit",
            "0",
            "--workers",
            "2",
            "--log-format",
            "json",
        ])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--out")
        .arg(out);
    command
}

pub(crate) async fn latest(http: &reqwest::Client, port: u16) -> Option<Value> {
    let response = http
        .get(format!("http://127.0.0.1:{port}/v1/syncs/latest"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .ok()?;
    (response.status() == 200).then_some(response.json().await.ok()?)
}

async fn wait_for_status(http: &reqwest::Client, port: u16, status: &str) -> Value {
    for _ in 0..600 {
        if let Some(summary) = latest(http, port).await
            && summary["status"] == status
        {
            return summary;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no sync reached {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_sync_exits_0_and_a_restart_completes_the_run() {
    let tenant = coupa_sim::Tenant::generate(61, coupa_sim::Sizes::users(6000));
    let options = coupa_sim::SimOptions::default().with_latency(Duration::from_millis(30));
    let sim = coupa_sim::CoupaSim::start_with(tenant.clone(), options).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("service.db");
    let http = reqwest::Client::new();
    let port = free_port();
    let child = service(&sim, &db, port);
    let running = wait_for_status(&http, port, "running").await;
    assert_eq!(running["run"], 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = std::time::Instant::now();
    crate::sigterm(&child);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    let logs = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{logs}");
    assert!(logs.contains("coupa-service stopped"), "{logs}");

    // Restarted on the same file, it resumes run 1 and completes it with the tenant's rows.
    let port = free_port();
    let mut child = service(&sim, &db, port);
    let done = wait_for_status(&http, port, "completed").await;
    assert_eq!(done["run"], 1, "the interrupted run, resumed: {done}");
    assert_eq!(done["resources"]["user"], 6000);
    let expected: u64 = [
        coupa_sim::AccessList::Roles,
        coupa_sim::AccessList::UserGroups,
        coupa_sim::AccessList::ContentGroups,
        coupa_sim::AccessList::AccountGroups,
        coupa_sim::AccessList::ApprovalGroups,
    ]
    .into_iter()
    .map(|l| tenant.memberships(l, |_| true).len() as u64)
    .sum::<u64>()
        + tenant.license_holders(|_| true).len() as u64;
    let grants: u64 = done["grants"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(grants, expected);
    crate::sigterm(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_serves_the_json_directory_connector_too() {
    use connector_service::{Auth, Service, ServiceConfig};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("directory.json");
    std::fs::write(
        &path,
        serde_json::json!({
            "users": [{"id": "u1", "name": "One", "email": "one@example.com"},
                      {"id": "u2", "name": "Two", "email": "two@example.com"}],
            "groups": [{"id": "eng", "name": "Engineering", "members": ["u1"]}]
        })
        .to_string(),
    )
    .unwrap();
    let registry = examples::json_directory::registry(&path).unwrap();
    let store = std::sync::Arc::new(connector_sdk::MemoryStore::new());
    let config = ServiceConfig::new(Auth::bearer(TOKEN).unwrap()).with_schedule(false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(
        Service::new(registry, store, config).serve(listener, async move {
            let _ = stopped.await;
        }),
    );
    let http = reqwest::Client::new();
    let started: Value = http
        .post(format!("{base}/v1/syncs"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = started["run"].as_i64().unwrap();
    let mut summary = Value::Null;
    for _ in 0..100 {
        summary = http
            .get(format!("{base}/v1/syncs/{run}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if summary["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        summary["resources"],
        serde_json::json!({"user": 2, "group": 1})
    );
    let granted: Value = http
        .put(format!(
            "{base}/v1/entitlements/group:eng:member/principals/user:u2"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(granted["outcome"], "granted");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(file.contains("u2"), "{file}");
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
