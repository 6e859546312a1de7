//! The `coupa-provision` example binary against the simulated fixture tenant.

use std::path::PathBuf;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let binary: PathBuf = dir
        .join("examples")
        .join(format!("coupa-provision{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(binary);
    for var in [
        "COUPA_DOMAIN",
        "COUPA_BASE_URL",
        "COUPA_CLIENT_ID",
        "COUPA_CLIENT_SECRET",
    ] {
        command.env_remove(var);
    }
    let output = command.arg("--sim-fixture").args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

#[test]
fn every_command_prints_its_outcome_in_one_line() {
    let cases: [(&[&str], &str); 9] = [
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
            "revoked role:1:member:user:1",
        ),
        (
            &["revoke", "role", "3", "1"],
            "already revoked role:3:member:user:1",
        ),
        (
            &["grant", "license", "travel-user", "2"],
            "granted license:travel-user:assigned to user:2",
        ),
        (
            &["grant", "account_group", "21", "1"],
            "granted account_group:21:member to user:1",
        ),
        (
            &["action", "disable_user", "--user-id", "1"],
            "disabled user:1",
        ),
        (
            &["action", "enable_user", "--user-id", "1"],
            "enabled user:1 (already)",
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
            "exists user:1 (Ada Lovelace)",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = run(args);
        assert_eq!((code, stdout.as_str()), (0, expected), "{args:?}: {stderr}");
    }
    let (code, stdout, _) = run(&[
        "create-account",
        "--login",
        "kat",
        "--email",
        "kat@example.com",
        "--first-name",
        "Katherine",
        "--last-name",
        "Johnson",
        "--license",
        "expense-user",
    ]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "created user:4 (Katherine Johnson)")
    );
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let (code, stdout, stderr) = run(&["action", "enable_user", "--user-id", "abc"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid argument `user_id`"), "{stderr}");
    let (code, _, stderr) = run(&["grant", "group", "999", "1"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("Coupa ignored user-groups id 999"),
        "{stderr}"
    );
}
