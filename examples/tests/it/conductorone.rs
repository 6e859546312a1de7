//! `coupa-service` as a ConductorOne self-hosted connector, against the fake control plane:
//! baton-coupa's flag and variable names, probes and metrics, SIGTERM mid-task, the one-shot
//! `-f` sync.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use c1_service_mode::testing::{FakeControlPlane, ScriptedTask, TaskResult};

use crate::{free_port, outcome};

/// `command` set to serve `plane` (its credentials in baton's variables, its CA trusted).
pub(crate) fn with_plane<'a>(
    command: &'a mut Command,
    plane: &FakeControlPlane,
    ca: &std::path::Path,
) -> &'a mut Command {
    command
        .env_remove("SERVICE_TOKEN")
        .env("BATON_CLIENT_ID", plane.client_id())
        .env(
            "BATON_CLIENT_SECRET",
            secrecy::ExposeSecret::expose_secret(&plane.client_secret()),
        )
        .env("SSL_CERT_FILE", ca)
}

/// `coupa-service` in service mode against `plane` on a simulated tenant, with baton's
/// variable names.
fn service(
    plane: &FakeControlPlane,
    ca: &std::path::Path,
    dir: &std::path::Path,
    port: u16,
    extra: &[&str],
) -> std::process::Child {
    with_plane(&mut crate::command("coupa-service"), plane, ca)
        .args(["-p", "--log-format", "json", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn service_mode_runs_tasks_reports_metrics_and_stops_on_sigterm_mid_sync() {
    let plane = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, plane.ca_pem()).unwrap();
    let schemas = plane.push(ScriptedTask::action_list_schemas());
    let port = free_port();
    // A sync of 3 000 users, one request at a time at 200 ms each, takes longer than the 10 s
    // a shutdown allows.
    let child = service(
        &plane,
        &ca,
        dir.path(),
        port,
        &[
            "--sim",
            "--sim-users",
            "3000",
            "--sim-latency-ms",
            "200",
            "--workers",
            "1",
        ],
    );
    let started = Instant::now();
    let finished = plane.wait_finished(1, Duration::from_secs(30)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(finished[0].task_id, schemas);
    assert!(
        matches!(finished[0].result, TaskResult::Success { .. }),
        "{finished:?}"
    );
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://127.0.0.1:{port}{path}")).send();
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("c1_tasks_total{type=\"action_list_schemas\",outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("coupa_http_requests "), "{metrics}");
    // SIGTERM while the sync runs.
    let sync = plane.push(ScriptedTask::sync_full());
    assert!(
        plane
            .wait_for(Duration::from_secs(30), |p| p.heartbeats().contains(&sync))
            .await
    );
    let stopping = Instant::now();
    crate::sigterm(&child);
    let output = child.wait_with_output().unwrap();
    let took = stopping.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let finished = plane.finished();
    let last = finished
        .iter()
        .find(|f| f.task_id == sync)
        .unwrap_or_else(|| panic!("{finished:?}"));
    assert!(
        matches!(&last.result, TaskResult::Error { code: 14, non_retryable: false, message }
            if message.contains("shutting down")),
        "{last:?}"
    );
    assert!(plane.uploads().is_empty());
    assert!(!stderr.contains("secret-token"), "{stderr}");
}

#[test]
fn baton_coupa_names_are_accepted() {
    // BATON_COUPA_DOMAIN is the tenant: a bad one is refused by name before any request.
    let (code, _, stderr) = outcome(
        crate::command("coupa-provision")
            .env("BATON_COUPA_DOMAIN", "acme.example.com")
            .env("BATON_COUPA_CLIENT_ID", "id")
            .env("BATON_COUPA_CLIENT_SECRET", "s3cret-value")
            .args(["grant", "group", "11", "3"]),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("invalid Coupa domain \"acme.example.com\""),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-value"));
    let (code, _, stderr) = outcome(crate::command("coupa-provision").args([
        "--coupa-domain",
        "acme.example.com",
        "--coupa-client-id",
        "id",
        "--coupa-client-secret",
        "s3cret-value",
        "grant",
        "group",
        "11",
        "3",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("invalid Coupa domain \"acme.example.com\""),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-value"));
    // A ConductorOne secret that is not one: refused, never printed.
    let (code, _, stderr) = outcome(
        crate::command("coupa-service")
            .env(
                "BATON_CLIENT_SECRET",
                "secret-token:conductorone.com:v1:bm90LWEta2V5",
            )
            .args([
                "--sim-fixture",
                "--client-id",
                "otter@acme.conductor.one/pcc",
            ]),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("ConductorOne credentials: invalid client secret"),
        "{stderr}"
    );
    assert!(!stderr.contains("bm90LWEta2V5"), "{stderr}");
}

#[test]
fn a_one_shot_sync_writes_the_file_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = outcome(
        crate::command("coupa-service")
            .args(["--sim-fixture", "-f", "sync.c1z"])
            .current_dir(dir.path()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("baton .c1z"), "{stdout}");
    let reader = c1z::Reader::open(dir.path().join("sync.c1z")).unwrap();
    assert_eq!(reader.grants().count(), 18);
}

#[test]
fn the_coupa_command_line_is_well_formed() {
    use connector_cli::{Cli, DefaultCommand};
    for default in [
        DefaultCommand::None,
        DefaultCommand::Sync,
        DefaultCommand::Serve,
    ] {
        Cli::new("coupa", coupa_cli::Coupa)
            .with_default(default)
            .command()
            .debug_assert();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_secret_is_logged_by_client_id_and_status_never_printed() {
    let plane = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, plane.ca_pem()).unwrap();
    let wrong = FakeControlPlane::wrong_secret();
    let wrong = secrecy::ExposeSecret::expose_secret(&wrong).to_owned();
    let child = crate::command("coupa-service")
        .env_remove("SERVICE_TOKEN")
        .env("BATON_CLIENT_ID", plane.client_id())
        .env("BATON_CLIENT_SECRET", &wrong)
        .env("SSL_CERT_FILE", &ca)
        .args(["--sim-fixture", "--log-format", "json", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        plane
            .wait_for(Duration::from_secs(20), |p| p.token_requests().1 >= 2)
            .await
    );
    crate::sigterm(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(plane.polls(), 0);
    let refusals: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("refused the credentials"))
        .collect();
    assert!(refusals.len() >= 2, "{stderr}");
    assert!(
        refusals
            .iter()
            .all(|l| l.contains(plane.client_id()) && l.contains("HTTP 401")),
        "{stderr}"
    );
    let key = wrong.rsplit(':').next().unwrap();
    assert!(!stderr.contains(key), "{stderr}");
}

/// `coupa-service` in service mode with provisioning, against `plane` and the tenant at `sim`
/// as a real one, storing (and journaling) into `db`.
fn service_for(
    plane: &FakeControlPlane,
    ca: &std::path::Path,
    sim: &coupa_sim::CoupaSim,
    db: &std::path::Path,
) -> std::process::Child {
    service_command(&mut crate::command("coupa-service"), plane, ca, sim, db)
        .spawn()
        .unwrap()
}

/// `command` (a `coupa-service`) set up as [`service_for`] does.
fn service_command<'a>(
    command: &'a mut Command,
    plane: &FakeControlPlane,
    ca: &std::path::Path,
    sim: &coupa_sim::CoupaSim,
    db: &std::path::Path,
) -> &'a mut Command {
    with_plane(command, plane, ca)
        .env("COUPA_BASE_URL", sim.uri())
        .env("COUPA_CLIENT_ID", sim.client_id())
        .env("COUPA_CLIENT_SECRET", sim.client_secret())
        .args([
            "-p",
            "--rate-limit",
            "0",
            "--log-format",
            "json",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--out")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoke_killed_between_its_two_writes_is_repaired_before_the_task_comes_again() {
    let sim = crate::sim_whose_clear_never_answers().await;
    let plane = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, plane.ca_pem()).unwrap();
    let db = dir.path().join("coupa-service.db");
    let grant = connector_sdk::Grant::new(
        connector_sdk::EntitlementId::new(connector_sdk::ResourceId::new("role", "1"), "member"),
        connector_sdk::ResourceId::new("user", "1"),
    );
    plane.push(ScriptedTask::revoke(&grant));
    let mut first = service_for(&plane, &ca, &sim, &db);
    crate::wait_for_the_clear(&sim).await;
    // SIGKILL between the two writes: the user is left with no roles.
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(sim.tenant().users[&1].roles, [].into());
    assert!(plane.finished().is_empty());

    // ConductorOne hands the unfinished revoke out again, to the restarted connector.
    let again = plane.push(ScriptedTask::revoke(&grant));
    let second = service_for(&plane, &ca, &sim, &db);
    let finished = plane.wait_finished(1, Duration::from_secs(30)).await;
    crate::sigterm(&second);
    let output = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Repaired before the first task: the revoke finds role 1 gone and the others back.
    assert_eq!(finished[0].task_id, again);
    assert!(
        matches!(&finished[0].result, TaskResult::Success { annotations, .. }
            if annotations == &["c1.connector.v2.GrantAlreadyRevoked"]),
        "{finished:?}"
    );
    assert_eq!(sim.tenant().users[&1].roles, [2, 3].into());
    assert!(
        stderr.contains(
            "repaired after an interrupted revoke of role:1:member from user:1, restored \
             role:2, role:3"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn baton_health_checks_versions_and_task_metrics_answer() {
    let plane = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, plane.ca_pem()).unwrap();
    let sync = plane.push(ScriptedTask::sync_full());
    let (port, health_port) = (free_port(), free_port());
    let child = service(
        &plane,
        &ca,
        dir.path(),
        port,
        &[
            "--sim-fixture",
            "--health-check",
            "--health-check-port",
            &health_port.to_string(),
        ],
    );
    let finished = plane.wait_finished(1, Duration::from_secs(30)).await;
    assert_eq!(finished[0].task_id, sync);
    assert!(matches!(finished[0].result, TaskResult::Success { .. }));
    // Hello reports the connector's version, as --version does.
    let hello = &plane.hellos()[0];
    assert_eq!(
        hello.package,
        (
            "coupa-service".to_owned(),
            coupa_connector::VERSION.to_owned()
        )
    );
    let (code, version, _) = outcome(crate::command("coupa-service").arg("--version"));
    assert_eq!(
        (code, version),
        (0, format!("coupa-service {}", coupa_connector::VERSION))
    );

    let http = reqwest::Client::new();
    let get = |port: u16, path: &str| http.get(format!("http://127.0.0.1:{port}{path}")).send();
    for (path, status) in [
        ("/health", "healthy"),
        ("/ready", "ready"),
        ("/live", "alive"),
    ] {
        let answer = get(health_port, path).await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["status"], status, "{path}: {body}");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
        assert!(body.get("details").is_none(), "{body}");
    }
    for path in ["/livez", "/readyz"] {
        assert_eq!(get(port, path).await.unwrap().status(), 200, "{path}");
    }
    let metrics = get(port, "/metrics").await.unwrap().text().await.unwrap();
    for line in [
        "c1_tasks_total{type=\"sync_full\",outcome=\"succeeded\"} 1",
        "c1_task_duration_seconds_count{type=\"sync_full\"} 1",
        "c1_upload_chunks_total 1",
        "c1_polls_total ",
        "c1_last_sync_success_timestamp_seconds ",
        "coupa_http_requests ",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
    assert!(!metrics.contains("c1_upload_bytes_total 0\n"), "{metrics}");
    // baton's health-check subcommand: 0 on 200, 1 otherwise; no connector flags needed.
    let check = |port: u16, endpoint: &str| {
        outcome(crate::command("coupa-service").args([
            "health-check",
            "--endpoint",
            endpoint,
            "--health-check-port",
            &port.to_string(),
        ]))
    };
    let (code, stdout, stderr) = check(health_port, "ready");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"status\":\"ready\""), "{stdout}");
    let (code, _, stderr) = check(free_port(), "live");
    assert_eq!(code, 1, "{stderr}");
    crate::sigterm(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
}

/// Debian's tinyproxy on a loopback port, asking for `user`:`password`, logging every request;
/// stopped when dropped.
struct Tinyproxy {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start(user: &str, password: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let config = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!(
                "Listen 127.0.0.1\nPort {port}\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\n\
                 MaxClients 20\nAllow 127.0.0.1\nBasicAuth {user} {password}\n",
                log.display()
            ),
        )
        .unwrap();
        // tinyproxy drops root for nobody, who must be able to write the log.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy is not installed: `apt-get install tinyproxy` (.ci/run does)");
        let began = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "tinyproxy did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// The requests tinyproxy took, such as `CONNECT 127.0.0.1:4443` or `GET http://…`.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("): ").map(|(_, r)| r.to_owned()))
            .filter(|r| r.starts_with("CONNECT ") || r.starts_with("GET ") || r.starts_with("PUT "))
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_mode_reaches_conductorone_and_coupa_through_a_proxy() {
    use coupa_sim::{CoupaSim, Tenant};
    let proxy = Tinyproxy::start("alice", "pr0xy-s3cret");
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let plane = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, plane.ca_pem()).unwrap();
    let db = dir.path().join("coupa-service.db");
    let sync = plane.push(ScriptedTask::sync_full());
    let group_11 =
        connector_sdk::EntitlementId::new(connector_sdk::ResourceId::new("group", "11"), "member");
    let grant = || ScriptedTask::grant(&group_11, &connector_sdk::ResourceId::new("user", "3"));
    let mut grants = vec![plane.push(grant())];
    let through = |password: &str| {
        let url = proxy.url("alice", password);
        let mut command = crate::command("coupa-service");
        command
            .env("HTTPS_PROXY", &url)
            .env("HTTP_PROXY", &url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("https_proxy")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy");
        command
    };
    let mut good = through("pr0xy-s3cret");
    let child = service_command(&mut good, &plane, &ca, &sim, &db)
        .spawn()
        .unwrap();
    // tinyproxy closes a plain-HTTP connection after each answer (a tunnel, as to Coupa's
    // HTTPS, stays open): a write sent on a pooled connection it is closing fails, and since a
    // write is never sent twice blindly, its task fails retryably and ConductorOne hands it out
    // again. So the grant is asked again while it fails that way (five times at most).
    let mut finished = plane.wait_finished(2, Duration::from_secs(30)).await;
    let result = |finished: &[c1_service_mode::testing::Finished], id: &str| {
        finished
            .iter()
            .find(|f| f.task_id == id)
            .map(|f| f.result.clone())
    };
    while grants.len() < 5
        && matches!(
            result(&finished, grants.last().unwrap()),
            Some(TaskResult::Error {
                code: 14,
                non_retryable: false,
                ..
            })
        )
    {
        grants.push(plane.push(grant()));
        finished = plane
            .wait_finished(grants.len() + 1, Duration::from_secs(30))
            .await;
    }
    crate::sigterm(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    for id in [&sync, grants.last().unwrap()] {
        assert!(
            matches!(result(&finished, id), Some(TaskResult::Success { .. })),
            "{finished:?}: {stderr}"
        );
    }
    assert!(sim.tenant().users[&3].user_groups.contains(&11));
    let plane_port = plane.addr().port();
    let sim_port = sim.uri().rsplit(':').next().unwrap().to_owned();
    let requests = proxy.requests();
    let tunnels = requests
        .iter()
        .filter(|r| r.starts_with(&format!("CONNECT localhost:{plane_port} ")))
        .count();
    // The token request and the gRPC channel both tunnel to ConductorOne.
    assert!(tunnels >= 2, "{requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with(&format!("GET http://127.0.0.1:{sim_port}/api/users?"))),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with(&format!("PUT http://127.0.0.1:{sim_port}/api/users/3"))),
        "{requests:?}"
    );
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", proxy.port)),
        "{stderr}"
    );
    assert!(!stderr.contains("pr0xy-s3cret"), "{stderr}");

    // A proxy that refuses the credentials: nothing reaches ConductorOne, and the password
    // is never printed.
    let polls = plane.polls();
    let mut refused = through("wrong-pr0xy-pw");
    let mut child = service_command(&mut refused, &plane, &ca, &sim, &db)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(plane.polls(), polls);
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("wrong-pr0xy-pw"), "{stderr}");
    assert!(stderr.contains("failed"), "{stderr}");
}
