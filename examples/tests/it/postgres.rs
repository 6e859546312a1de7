//! The programs on a PostgreSQL store (`--out postgres://…`): a database of its own per test,
//! created in the one `TEST_DATABASE_URL` names, dropped at the end.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::coupa_service::latest;
use crate::free_port;

/// A database created for one test, dropped (with everything in it) when it goes.
struct Database {
    name: String,
}

impl Database {
    async fn create() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("programs_{}_{n}", std::process::id());
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self { name }
    }

    /// Its URL, with a password in it (the test cluster trusts loopback connections, so any
    /// password is accepted, and none may ever be shown).
    fn url(&self) -> String {
        let base = std::env::var("TEST_DATABASE_URL").unwrap();
        let (server, _) = base.rsplit_once('/').unwrap();
        let server = server.replacen(
            "postgres://postgres@",
            "postgres://postgres:pw-never-shown@",
            1,
        );
        format!("{server}/{}", self.name)
    }

    async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client.query(sql, &[]).await.unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    admin()
                        .await
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("the test database {} was not dropped", self.name);
        }
    }
}

async fn admin() -> tokio_postgres::Client {
    let url = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL names the PostgreSQL database of these tests");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn coupa_sync_writes_into_postgres_and_never_shows_the_password() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let c1z = dir.path().join("sync.c1z");
    for run in 1..=2 {
        let output = crate::command("coupa-sync")
            .args(["--sim-users", "200", "--out", &db.url(), "--c1z"])
            .arg(&c1z)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert!(output.status.success(), "{stderr}");
        assert!(
            stdout.contains(&format!(
                "Synced into postgres://postgres@127.0.0.1:{}/{} (run {run})",
                url_port(),
                db.name
            )),
            "{stdout}"
        );
        assert!(!stdout.contains("pw-never-shown") && !stderr.contains("pw-never-shown"));
    }
    let rows = db
        .query("SELECT status, count(*) FROM sync_runs GROUP BY status")
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].get::<_, String>(0), rows[0].get::<_, i64>(1)),
        ("completed".to_owned(), 2)
    );
    let users = db
        .query("SELECT count(*) FROM resources WHERE run_id = 2 AND resource_type = 'user'")
        .await;
    assert_eq!(users[0].get::<_, i64>(0), 200);
    // The .c1z of the last run, read from PostgreSQL, holds its grants.
    let grants = db
        .query("SELECT count(*) FROM grants WHERE run_id = 2")
        .await[0]
        .get::<_, i64>(0);
    let file = c1z::Reader::open(&c1z).unwrap();
    let read = file
        .grants()
        .map(|g| g.map(drop))
        .collect::<Result<Vec<()>, _>>()
        .unwrap();
    assert_eq!(i64::try_from(read.len()).unwrap(), grants);
    assert!(grants > 200, "{grants}");
    // A database that is not there: the error names it, without the password.
    let missing = db.url().replace(&db.name, "no_such_database");
    let output = crate::command("coupa-sync")
        .args(["--sim-users", "10", "--out", &missing])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open postgres://postgres@127.0.0.1:")
            && stderr.contains("/no_such_database"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-never-shown"), "{stderr}");
}

fn url_port() -> u16 {
    let url = std::env::var("TEST_DATABASE_URL").unwrap();
    let after = url.rsplit_once(':').unwrap().1;
    after.split('/').next().unwrap().parse().unwrap()
}

/// A `coupa-service` replica on `db` for the tenant at `sim` (its logs discarded: nothing reads
/// them, and a full pipe would stop it).
fn replica(sim: &coupa_sim::CoupaSim, db: &Database, port: u16) -> std::process::Child {
    crate::coupa_service::service_command(sim, db.url().as_ref(), port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let began = Instant::now();
    while !done().await {
        assert!(began.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two replicas of `coupa-service` on one database and one tenant: one sync at a time (the
/// other sees the lease and starts none), a replica killed mid-sync is taken over by the other,
/// and both serve the same completed run; a replica started after it does not sync again
/// within the interval.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn replicas_share_one_sync_and_take_over_a_killed_one() {
    let tenant = coupa_sim::Tenant::generate(62, coupa_sim::Sizes::users(3000));
    let options = coupa_sim::SimOptions::default().with_latency(Duration::from_millis(30));
    let sim = coupa_sim::CoupaSim::start_with(tenant, options).await;
    let db = Database::create().await;
    let http = reqwest::Client::new();
    let ports = [free_port(), free_port()];
    let mut replicas = [replica(&sim, &db, ports[0]), replica(&sim, &db, ports[1])];
    // Both answer with the one run in progress.
    for port in ports {
        wait_until("a running sync", Duration::from_secs(30), async || {
            latest(&http, port)
                .await
                .is_some_and(|s| s["status"] == "running" && s["run"] == 1)
        })
        .await;
    }
    let holder = db.query("SELECT holder FROM sync_runs WHERE id = 1").await;
    let holder: serde_json::Value = serde_json::from_str(&holder[0].get::<_, String>(0)).unwrap();
    let pid = u32::try_from(holder["pid"].as_u64().unwrap()).unwrap();
    let (killed, survivor) = if replicas[0].id() == pid {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(replicas[killed].id(), pid, "one of the two holds the run");
    // The holder dies without a word.
    replicas[killed].kill().unwrap();
    replicas[killed].wait().unwrap();
    let at = Instant::now();
    wait_until("the takeover", Duration::from_secs(60), async || {
        let rows = db.query("SELECT holder FROM sync_runs WHERE id = 1").await;
        rows[0]
            .get::<_, Option<String>>(0)
            .is_some_and(|h| !h.contains(&format!("\"pid\":{pid},")))
    })
    .await;
    eprintln!(
        "run 1 taken over {:?} after its holder was killed",
        at.elapsed()
    );
    wait_until("the completed run", Duration::from_secs(60), async || {
        latest(&http, ports[survivor])
            .await
            .is_some_and(|s| s["status"] == "completed")
    })
    .await;
    let done = latest(&http, ports[survivor]).await.unwrap();
    assert_eq!(done["run"], 1, "the killed replica's run, finished: {done}");
    assert_eq!(done["resources"]["user"], 3000);
    // A new replica serves the same run, and does not sync the tenant again.
    let port = free_port();
    let mut late = replica(&sim, &db, port);
    wait_until("the late replica", Duration::from_secs(30), async || {
        latest(&http, port).await.is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let served = latest(&http, port).await.unwrap();
    assert_eq!(served, done, "both serve the same run");
    let runs = db
        .query("SELECT id, status FROM sync_runs ORDER BY id")
        .await;
    let runs: Vec<(i64, String)> = runs.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(runs, [(1, "completed".to_owned())], "one sync in all");
    for child in [&mut replicas[survivor], &mut late] {
        crate::sigterm(child);
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}

/// ConductorOne service mode on PostgreSQL: a sync task stores its run in the database and
/// uploads it.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn service_mode_syncs_into_postgres() {
    use c1_service_mode::testing::{FakeControlPlane, ScriptedTask, TaskResult};
    let db = Database::create().await;
    let plane = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, plane.ca_pem()).unwrap();
    let sync = plane.push(ScriptedTask::sync_full());
    let child = crate::conductorone::with_plane(&mut crate::command("coupa-service"), &plane, &ca)
        .args(["-p", "--sim-fixture", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--out")
        .arg(db.url())
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let finished = plane.wait_finished(1, Duration::from_secs(60)).await;
    assert_eq!(finished[0].task_id, sync);
    assert!(
        matches!(finished[0].result, TaskResult::Success { .. }),
        "{finished:?}"
    );
    assert_eq!(plane.uploads().len(), 1);
    let runs = db.query("SELECT status FROM sync_runs").await;
    let runs: Vec<String> = runs.iter().map(|r| r.get(0)).collect();
    assert_eq!(runs, ["completed"]);
    crate::sigterm(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("pw-never-shown"), "{stderr}");
}
