//! The `coupa-provision` example binary: outcomes, exit codes, and every bad input.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::outcome;

fn provision() -> Command {
    crate::command("coupa-provision")
}

/// Runs against the simulated fixture tenant.
fn fixture(args: &[&str]) -> (i32, String, String) {
    outcome(provision().arg("--sim-fixture").args(args))
}

#[test]
fn every_command_prints_its_outcome_in_one_grammar() {
    let cases: [(&[&str], &str); 12] = [
        (
            &["grant", "group", "11", "3"],
            "granted group:11:member to user:3",
        ),
        (
            &["grant", "group", "10", "1"],
            "already granted group:10:member to user:1",
        ),
        (
            &["revoke", "role", "1", "1"],
            "revoked role:1:member from user:1",
        ),
        (
            &["revoke", "role", "3", "1"],
            "already revoked role:3:member from user:1",
        ),
        (
            &["grant", "license", "intake-user", "2"],
            "granted license:intake-user:assigned to user:2",
        ),
        (
            &["revoke", "license", "expense-user", "2"],
            "revoked license:expense-user:assigned from user:2",
        ),
        (
            &["grant", "account_group", "21", "1"],
            "granted account_group:21:member to user:1",
        ),
        (
            &["grant", "approver", "12", "1"],
            "granted group:12:approver to user:1",
        ),
        (
            &["revoke", "group:11:approver", "user:1"],
            "revoked group:11:approver from user:1",
        ),
        (
            &["action", "disable_user", "--user-id", "1"],
            "disabled user:1",
        ),
        (
            &["action", "enable_user", "--user-id", "1"],
            "already enabled user:1",
        ),
        (
            &[
                "create-account",
                "--login",
                "ada",
                "--email",
                "ada@example.com",
                "--first-name",
                "Ada",
                "--last-name",
                "L",
            ],
            "already exists user:1 (Ada Lovelace)",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = fixture(args);
        assert_eq!((code, stdout.as_str()), (0, expected), "{args:?}: {stderr}");
    }
}

#[test]
fn json_prints_one_object_per_outcome() {
    let cases: [(&[&str], serde_json::Value); 3] = [
        (
            &["--json", "revoke", "group", "12", "1"],
            serde_json::json!({"outcome": "already_revoked", "entitlement": "group:12:member",
                "principal": "user:1"}),
        ),
        (
            &["--json", "action", "disable_user", "--user-id", "2"],
            serde_json::json!({"outcome": "disabled", "principal": "user:2"}),
        ),
        (
            &["--json", "grant", "group", "999", "1"],
            serde_json::json!({"outcome": "error", "error": {"kind": "failed", "code": "not_found",
                "message":
                "grant group:999:member to user:1 failed: not found: Coupa ignored user-groups \
                 id 999 when writing user 1's user-groups (it does not exist); the list reads \
                 [10, 11]"}}),
        ),
    ];
    for (args, expected) in cases {
        let (_, stdout, _) = fixture(args);
        assert_eq!(stdout.lines().count(), 1, "{args:?}: {stdout}");
        let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(value, expected, "{args:?}");
    }
}

#[test]
fn a_failed_operation_exits_1_with_one_line() {
    let (code, stdout, stderr) = fixture(&["grant", "group", "999", "1"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Coupa ignored user-groups id 999"),
        "{stderr}"
    );
}

#[test]
fn without_a_tenant_it_refuses_and_names_what_to_set() {
    let (code, stdout, stderr) =
        outcome(provision().args(["action", "disable_user", "--user-id", "2"]));
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "coupa-provision: no Coupa tenant given: set COUPA_DOMAIN (or COUPA_BASE_URL), \
         COUPA_CLIENT_ID and COUPA_CLIENT_SECRET, or pass --sim or --sim-fixture to act on a \
         simulated tenant"
    );
}

#[test]
fn partial_credentials_name_the_missing_ones() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("COUPA_DOMAIN", "acme")],
            "COUPA_CLIENT_ID, COUPA_CLIENT_SECRET are not set",
        ),
        (
            &[("COUPA_DOMAIN", "acme"), ("COUPA_CLIENT_ID", "id")],
            "COUPA_CLIENT_SECRET is not set",
        ),
        (
            &[
                ("COUPA_CLIENT_ID", "id"),
                ("COUPA_CLIENT_SECRET", "s3cret-value"),
            ],
            "COUPA_DOMAIN (or COUPA_BASE_URL) is not set",
        ),
    ];
    for (vars, expected) in cases {
        let mut command = provision();
        command.args(["grant", "group", "11", "3"]);
        for (name, value) in vars {
            command.env(name, value);
        }
        let (code, _, stderr) = outcome(&mut command);
        assert_eq!(
            (code, stderr.as_str()),
            (2, format!("coupa-provision: {expected}").as_str()),
            "{vars:?}"
        );
        assert!(!stderr.contains("s3cret-value"));
    }
}

#[test]
fn a_base_url_without_credentials_is_refused_before_any_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    for extra in [&[][..], &["--sim-fixture"][..]] {
        let (code, _, stderr) = outcome(
            provision()
                .env("COUPA_BASE_URL", &url)
                .args(extra)
                .args(["grant", "group", "11", "3"]),
        );
        assert_eq!(code, 2, "{extra:?}: {stderr}");
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the base URL received a connection: {other:?}"),
    }
}

#[test]
fn bad_input_is_a_usage_error_never_a_panic() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let creds = [
        ("COUPA_CLIENT_ID", "id"),
        ("COUPA_CLIENT_SECRET", "s3cret-value"),
    ];
    let bad_url = [creds[0], creds[1], ("COUPA_BASE_URL", "not a url")];
    let bad_domain = [creds[0], creds[1], ("COUPA_DOMAIN", "acme.example.com")];
    let grant: &[&str] = &["--sim-fixture", "grant", "group", "11", "3"];
    let cases: [Case; 12] = [
        (&bad_url, &grant[1..], "base URL \"not a url\" is not a URL"),
        (
            &bad_domain,
            &grant[1..],
            "invalid Coupa domain \"acme.example.com\"",
        ),
        (
            &[],
            &["--sim-fixture", "grant", "group", "11", "+3"],
            "user id \"+3\"",
        ),
        (
            &[],
            &["--sim-fixture", "grant", "group", "11", "003"],
            "user id \"003\"",
        ),
        (
            &[],
            &["--sim-fixture", "grant", "group", "-1", "3"],
            "unexpected argument '-1'",
        ),
        (
            &[],
            &["--sim-fixture", "revoke", "role", "x", "3"],
            "role id \"x\"",
        ),
        (
            &[],
            &["--sim-fixture", "grant", "license", "quantum-user", "3"],
            "unknown license",
        ),
        (
            &[],
            &["--sim-fixture", "action", "disable_user", "--user-id", "+2"],
            "user id \"+2\"",
        ),
        (
            &[],
            &["--sim-fixture", "grant", "team", "1", "3"],
            "invalid value 'team'",
        ),
        (
            &[],
            &["--sim-fixture", "action", "delete_user", "--user-id", "2"],
            "invalid value 'delete_user'",
        ),
        (
            &creds,
            grant,
            "--sim and --sim-fixture act on a simulated tenant, but",
        ),
        (
            &[],
            &["--sim", "--sim-fixture", "grant", "group", "11", "3"],
            "cannot be used with",
        ),
    ];
    for (vars, args, expected) in cases {
        let mut command = provision();
        command.args(args);
        for (name, value) in vars {
            command.env(name, value);
        }
        let (code, stdout, stderr) = outcome(&mut command);
        assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("s3cret-value"), "{args:?}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn a_non_utf8_variable_is_a_usage_error() {
    use std::os::unix::ffi::OsStringExt;
    let value = std::ffi::OsString::from_vec(vec![b'i', b'd', 0xff]);
    let (code, _, stderr) = outcome(
        provision()
            .env("COUPA_DOMAIN", "acme")
            .env("COUPA_CLIENT_ID", value)
            .env("COUPA_CLIENT_SECRET", "x")
            .args(["grant", "group", "11", "3"]),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (2, "coupa-provision: COUPA_CLIENT_ID is not valid UTF-8")
    );
}

#[cfg(unix)]
#[test]
fn a_signal_during_a_write_lets_it_finish() {
    for signal in ["-INT", "-TERM"] {
        // Every simulated answer takes 300 ms; the signal arrives while the revoke is in flight.
        let child = provision()
            .args([
                "--sim-fixture",
                "--sim-latency-ms",
                "300",
                "revoke",
                "role",
                "1",
                "1",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(900));
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{signal}: {stderr}");
        assert_eq!(
            stdout.trim(),
            "revoked role:1:member from user:1",
            "{signal}"
        );
        assert!(
            stderr.contains("interrupted; finishing the write in flight"),
            "{signal}: {stderr}"
        );
    }
}

#[test]
fn every_change_is_one_audit_line_on_standard_error() {
    let audit = |args: &[&str]| {
        let (code, _, stderr) = outcome(
            provision()
                .env_remove("RUST_LOG")
                .env("USER", "auditor")
                .arg("--sim-fixture")
                .args(args),
        );
        assert_eq!(code, 0, "{args:?}: {stderr}");
        stderr
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["fields"].clone())
            .collect::<Vec<_>>()
    };
    let events = audit(&["grant", "group", "11", "3"]);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (
            &e["interface"],
            &e["actor"],
            &e["operation"],
            &e["entitlement"],
            &e["principal"],
            &e["outcome"],
            &e["changed"]
        ),
        (
            &json!("cli"),
            &json!("OS user auditor"),
            &json!("grant"),
            &json!("group:11:member"),
            &json!("user:3"),
            &json!("granted"),
            &json!(true)
        )
    );
    // Nothing changed: no audit line.
    assert_eq!(
        audit(&["grant", "group", "10", "1"]),
        Vec::<serde_json::Value>::new()
    );
    let events = audit(&["action", "disable_user", "--user-id", "2"]);
    assert_eq!(
        (
            &events[0]["operation"],
            &events[0]["action"],
            &events[0]["outcome"]
        ),
        (&json!("action"), &json!("disable_user"), &json!("disabled"))
    );
}

/// SIGKILL between the clear and the set of a role removal: the next write, any write, to that
/// user repairs it first from the journal; the user ends with every role but the revoked one.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoke_killed_between_its_two_writes_is_repaired_by_the_next_write() {
    let sim = crate::sim_whose_clear_never_answers().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    let real = |command: &mut Command| {
        command
            .env("COUPA_BASE_URL", sim.uri())
            .env("COUPA_CLIENT_ID", sim.client_id())
            .env("COUPA_CLIENT_SECRET", sim.client_secret())
            .arg("--rate-limit")
            .arg("0");
    };
    let mut first = provision();
    real(&mut first);
    let mut first = first
        .args(["revoke", "--journal"])
        .arg(&journal)
        .args(["role", "1", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::wait_for_the_clear(&sim).await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(
        sim.tenant().users[&1].roles,
        [].into(),
        "what the kill left"
    );

    let mut next = provision();
    real(&mut next);
    next.args(["grant", "--journal"])
        .arg(&journal)
        .args(["group", "12", "1"]);
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || outcome(&mut next))
        .await
        .unwrap();
    assert_eq!(
        (code, stdout.as_str()),
        (0, "granted group:12:member to user:1"),
        "{stderr}"
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
