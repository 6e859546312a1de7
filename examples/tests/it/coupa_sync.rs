//! The `coupa-sync` example binary, end to end against its simulated tenant.

use std::process::Command;

fn command() -> Command {
    crate::command("coupa-sync")
}

#[test]
fn syncs_the_simulated_tenant_and_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sync.db");
    let json = dir.path().join("summary.json");
    let output = command()
        .args(["--sim-users", "300", "--workers", "4", "--out"])
        .arg(&db)
        .arg("--summary-json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("no Coupa credentials set; syncing a SIMULATED tenant of 300 users"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("HTTP requests"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(summary["resources"]["user"], 300);
    assert_eq!(summary["resources"]["license"], 19);
    for key in ["group", "role", "license", "account_group", "content_group"] {
        assert!(
            summary["grants"][key].as_u64().unwrap() > 0,
            "{key}: {summary}"
        );
    }
    // One token; validation's user and account-group pages; 6 full user pages and the short
    // one that ends the listing, plus at most one speculative page per other worker lane; the
    // four group-like lists (each run decides afresh, so account groups are read again).
    let requests = summary["stats"]["coupa_http_requests"].as_u64().unwrap();
    let least = 1 + 2 + 7 + 4;
    assert!((least..=least + 3).contains(&requests), "{requests}");
    assert_eq!(summary["warnings"], serde_json::json!([]));

    // The same file again: a second, new run.
    let output = command()
        .args(["--sim-users", "300", "--out"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("(run 2)"));
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let output = command()
        .env("COUPA_DOMAIN", "acme.example.com")
        .env("COUPA_CLIENT_ID", "id")
        .env("COUPA_CLIENT_SECRET", "s3cret-value")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "configuration errors exit 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("coupa-sync: invalid Coupa domain \"acme.example.com\""),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-value"));

    let output = command()
        .env("COUPA_DOMAIN", "acme")
        .env("COUPA_CLIENT_ID", "id")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "coupa-sync: COUPA_CLIENT_SECRET is not set"
    );

    // A base URL alone is not "no credentials": no simulated fallback, no request.
    let output = command()
        .env("COUPA_BASE_URL", "https://acme.coupahost.com")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "coupa-sync: COUPA_CLIENT_ID, COUPA_CLIENT_SECRET are not set"
    );
    let output = command()
        .env("COUPA_BASE_URL", "not a url")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "no panic on a bad URL");
}

/// A command syncing the simulated tenant at `sim` as if it were a real one (credentials in the
/// environment), into `db`.
fn real(sim: &coupa_sim::CoupaSim, db: &std::path::Path) -> Command {
    let mut command = command();
    command
        .env("COUPA_BASE_URL", sim.uri())
        .env("COUPA_CLIENT_ID", sim.client_id())
        .env("COUPA_CLIENT_SECRET", sim.client_secret())
        .args(["--workers", "2", "--rate-limit", "0", "--out"])
        .arg(db);
    command
}

/// Waits until `db` holds a running run with a holder, then returns that holder's pid.
fn wait_for_holder(db: &std::path::Path) -> u32 {
    use connector_sdk::Store;
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let Ok(store) = connector_sdk::SqliteStore::open(db) else {
            continue;
        };
        if let Some(holder) = store
            .runs()
            .ok()
            .and_then(|runs| runs.last().and_then(|r| r.holder.clone()))
        {
            return holder.pid;
        }
    }
    panic!("no run started in {}", db.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_on_one_file_and_a_killed_holder() {
    let options =
        coupa_sim::SimOptions::default().with_latency(std::time::Duration::from_millis(40));
    let tenant = coupa_sim::Tenant::generate(5, coupa_sim::Sizes::users(6000));
    let sim = coupa_sim::CoupaSim::start_with(tenant, options).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sync.db");

    // A slow sync holds the file; a second process is refused and names the holder.
    let mut first = real(&sim, &db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let holder = wait_for_holder(&db);
    assert_eq!(holder, first.id());
    let (code, _, stderr) = crate::outcome(&mut real(&sim, &db));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "coupa-sync: sync already in progress: run 1 is held by process {holder} on "
        )),
        "{stderr}"
    );

    // Killed, it blocks nothing: the next sync of the same tenant takes the run over and
    // resumes it.
    first.kill().unwrap();
    first.wait().unwrap();
    let (code, stdout, stderr) = crate::outcome(&mut real(&sim, &db));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(run 1, resumed)"), "{stdout}");
    assert!(stdout.contains("user                  6000"), "{stdout}");

    // A simulated demo never finishes a real tenant's interrupted run.
    let mut second = real(&sim, &db)
        .arg("--fresh")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&db);
    second.kill().unwrap();
    second.wait().unwrap();
    // Not even into the file at all, unless asked: a store holds one tenant.
    let (code, _, stderr) =
        crate::outcome(command().args(["--sim-users", "200", "--out"]).arg(&db));
    assert_eq!(code, 1, "{stderr}");
    let real_tenant = format!(
        "\"connector=coupa|tenant={}/|client_id=sim-client|account_groups=true\"",
        sim.uri()
    );
    assert!(
        stderr.contains(&format!(
            "the store holds run 1 of {real_tenant}, not of \"connector=coupa|tenant=simulated \
             tenant (seed 42, 200 users)|client_id=sim-client|account_groups=true\""
        )) && stderr.contains("pass --switch-tenant to sync into"),
        "{stderr}"
    );
    let (code, stdout, stderr) = crate::outcome(
        command()
            .args(["--sim-users", "200", "--switch-tenant", "--out"])
            .arg(&db),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(run 3)"), "{stdout}");
    assert!(
        stdout.contains("warning: run 2 was not resumed: it synced something else"),
        "{stdout}"
    );
    assert!(stdout.contains("user                   200"), "{stdout}");
}

/// A PostgreSQL URL that does not parse is refused without being repeated: it may hold a
/// password.
#[test]
fn a_malformed_database_url_is_refused_without_showing_it() {
    let output = command()
        .args([
            "--sim-users",
            "10",
            "--out",
            "postgres://sync:pw-never-shown@127.0.0.1:notaport/db",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("the PostgreSQL URL does not parse"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-never-shown"), "{stderr}");
}
