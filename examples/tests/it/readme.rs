//! The README's commands, run as written: each `coupa-provision` line is run and its output
//! compared with the line's comment, and the main job runs with no arguments.

use crate::outcome;

const README: &str = include_str!("../../../README.md");

/// The lines of the README's `sh` blocks that run `example`, as (arguments, expected output).
fn lines(example: &str) -> Vec<(Vec<&'static str>, Option<&'static str>)> {
    lines_with(&format!("cargo run --example {example} -- "))
}

/// The lines of the README's `sh` blocks that start with `prefix`, as (arguments after it,
/// expected output).
fn lines_with(prefix: &str) -> Vec<(Vec<&'static str>, Option<&'static str>)> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in README.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            text if in_sh => {
                if let Some(rest) = text.strip_prefix(prefix) {
                    let (command, comment) =
                        match rest.split_once("   # ").or(rest.split_once("  # ")) {
                            Some((c, e)) => (c, Some(e.trim())),
                            None => (rest, None),
                        };
                    assert!(
                        !command.contains(['"', '\'', '\\']),
                        "keep README lines unquoted: {line}"
                    );
                    out.push((command.split_whitespace().collect(), comment));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_provisioning_line_prints_what_its_comment_says() {
    let lines = lines("coupa-provision");
    assert!(lines.len() >= 6, "{lines:?}");
    for (args, expected) in lines {
        let expected = expected.unwrap_or_else(|| panic!("{args:?} has no expected output"));
        let (code, stdout, stderr) = outcome(crate::command("coupa-provision").args(&args));
        assert_eq!((code, stdout.as_str()), (0, expected), "{args:?}: {stderr}");
    }
}

#[test]
fn the_main_job_runs_as_written() {
    assert!(README.contains("cargo run --release --example coupa-sync    # the main job"));
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = outcome(crate::command("coupa-sync").current_dir(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("Synced into coupa-sync.db (run 1)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("syncing a SIMULATED tenant of 5000 users"),
        "{stderr}"
    );
    assert!(dir.path().join("coupa-sync.db").exists());
}

#[test]
fn the_c1z_lines_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sync = lines("coupa-sync");
    let read = lines("c1z");
    assert_eq!((sync.len(), read.len()), (1, 3), "{sync:?} {read:?}");
    let (code, _, stderr) = outcome(
        crate::command("coupa-sync")
            .args(&sync[0].0)
            .current_dir(dir.path()),
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stats, stderr) = outcome(
        crate::command("c1z")
            .args(&read[0].0)
            .current_dir(dir.path()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stats.starts_with("sync "), "{stats}");
    let user_row = stats
        .lines()
        .find(|l| l.starts_with("user "))
        .unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(
        user_row.split_whitespace().collect::<Vec<_>>(),
        ["user", "3", "0", "0"]
    );
    let (code, grants, stderr) = outcome(
        crate::command("c1z")
            .args(&read[1].0)
            .current_dir(dir.path()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(grants.contains("group:10:member"), "{grants}");
    assert_eq!(
        grants.lines().count(),
        1 + 18,
        "a header and the fixture's 18 grants"
    );
    let (code, profile, stderr) = outcome(
        crate::command("c1z")
            .args(&read[2].0)
            .current_dir(dir.path()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&profile).unwrap(),
        serde_json::json!({
            "first_name": "Ada",
            "full_name": "Ada Lovelace",
            "last_name": "Lovelace",
            "requisition_approval_limit_amount": "5000.00",
            "requisition_approval_limit_currency": "USD",
            "requisition_self_approval_limit_amount": "500.00",
            "requisition_self_approval_limit_currency": "USD",
        })
    );
    let (code, out, stderr) = outcome(
        crate::command("c1z")
            .args(["profile", "fixture.c1z", "user:9"])
            .current_dir(dir.path()),
    );
    assert_eq!(
        (code, out.as_str(), stderr.as_str()),
        (1, "", "c1z: the sync holds no resource user:9")
    );
}

#[test]
fn the_template_binary_lists_its_subcommands_as_written() {
    let lines = lines("json-directory");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (code, help, stderr) = outcome(crate::command("json-directory").args(&lines[0].0));
    assert_eq!(code, 0, "{stderr}");
    let commands = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .unwrap_or_else(|| panic!("{help}"));
    let names: Vec<&str> = commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "sync",
            "grant",
            "revoke",
            "create-account",
            "action",
            "capabilities",
            "serve",
            "health-check",
            "help"
        ]
    );
}
