//! The command line end to end on the SDK's fake connector: every subcommand, the default
//! subcommand, flags on either side of it, outcomes, exit codes and refusals.

#![allow(missing_docs)]

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use connector_cli::{Cli, CliError, ConnectorCli, DefaultCommand, OpenFor, Opened};
use connector_sdk::testing::fake::{FakeTenant, Shape};
use serde_json::{Value, json};

/// The fake connector on the command line; each run opens a fresh fake tenant.
struct Fake;

#[derive(Debug, clap::Args)]
struct FakeArgs {
    /// Users in the fake tenant.
    #[arg(long, default_value_t = 23)]
    users: u32,
    /// Fail the next N writes.
    #[arg(long, default_value_t = 0)]
    failing_writes: usize,
    /// Refuse to open for writes (as a connector refuses an unnamed tenant).
    #[arg(long)]
    read_only: bool,
}

#[async_trait]
impl ConnectorCli for Fake {
    type Args = FakeArgs;

    fn version(&self) -> &'static str {
        "9.8.7"
    }

    async fn open(&self, args: &FakeArgs, purpose: OpenFor) -> Result<Opened, CliError> {
        if args.read_only && purpose == OpenFor::Write {
            return Err(CliError::usage("read-only: no writes"));
        }
        let tenant = FakeTenant::new(Shape {
            users: args.users,
            ..Shape::default()
        });
        tenant
            .faults
            .failing_writes
            .store(args.failing_writes, Ordering::SeqCst);
        Ok(Opened::new(tenant.registry_for("fake tenant")).with_notice("a FAKE tenant"))
    }
}

/// Runs the fake's command line; a write gets a journal of its own in a temporary folder.
async fn run(default: DefaultCommand, args: &[&str]) -> Result<String, CliError> {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    let mut all = vec!["fake"];
    for arg in args {
        all.push(arg);
        if ["grant", "revoke", "create-account"].contains(arg) {
            all.extend(["--journal", journal.to_str().unwrap()]);
        }
    }
    if let Some(at) = all.iter().position(|a| *a == "action")
        && at + 1 < all.len()
    {
        all.splice(at + 2..at + 2, ["--journal", journal.to_str().unwrap()]);
    }
    Cli::new("fake", Fake)
        .with_default(default)
        .run_from(all)
        .await
}

fn counts(grants: &std::collections::BTreeSet<String>, prefix: &str) -> usize {
    grants.iter().filter(|g| g.starts_with(prefix)).count()
}

#[test]
fn the_command_is_well_formed_with_every_default() {
    for default in [
        DefaultCommand::None,
        DefaultCommand::Sync,
        DefaultCommand::Serve,
    ] {
        Cli::new("fake", Fake)
            .with_default(default)
            .command()
            .debug_assert();
    }
}

#[tokio::test]
async fn help_lists_every_subcommand() {
    let help = run(DefaultCommand::None, &["--help"]).await.unwrap();
    for sub in [
        "sync",
        "grant",
        "revoke",
        "create-account",
        "action",
        "capabilities",
        "serve",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
            "{sub}: {help}"
        );
    }
    assert!(help.contains("--users <USERS>"), "{help}");
}

#[tokio::test]
async fn sync_is_the_default_and_prints_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let db = db.to_str().unwrap();
    let out = run(DefaultCommand::Sync, &["--users", "7", "--out", db])
        .await
        .unwrap();
    let tenant = FakeTenant::new(Shape {
        users: 7,
        ..Shape::default()
    });
    let grants = tenant.expected_grants();
    assert_eq!(
        (counts(&grants, "group:"), counts(&grants, "role:")),
        (12, 7)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Synced into {db} (run 1)"));
    assert_eq!(
        lines[2..7],
        [
            "type             resources     grants",
            "group                    5         12",
            "project                  4          -",
            "role                     2          7",
            "user                     7          -",
        ]
    );
    // The connector's flags may also follow the subcommand; --json prints the summary.
    let out = run(
        DefaultCommand::Sync,
        &["sync", "--out", db, "--users", "7", "--json", "--fresh"],
    )
    .await
    .unwrap();
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        summary["resources"],
        json!({"user": 7, "role": 2, "group": 5, "project": 4})
    );
    assert_eq!(summary["run"], 2);
    assert_eq!(summary["resumed"], false);
}

#[tokio::test]
async fn without_a_default_a_subcommand_is_required() {
    let error = run(DefaultCommand::None, &["--users", "3"])
        .await
        .unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(error.message().contains("requires a subcommand"), "{error}");
}

#[tokio::test]
async fn grants_and_revokes_print_one_outcome_each() {
    // User 1 is not in group 1; user 2 is ((1 + 2) % 3 == 0).
    let cases: [(&[&str], &str); 4] = [
        (
            &["grant", "group:1:member", "user:1"],
            "granted group:1:member to user:1\n",
        ),
        (
            &["grant", "group:1:member", "user:2"],
            "already granted group:1:member to user:2\n",
        ),
        (
            &["revoke", "group:1:member", "user:2"],
            "revoked group:1:member from user:2\n",
        ),
        (
            &["revoke", "group:1:member", "user:1"],
            "already revoked group:1:member from user:1\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(run(DefaultCommand::None, args).await.unwrap(), expected);
    }
    let out = run(
        DefaultCommand::None,
        &["--json", "grant", "group:1:member", "user:1"],
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"outcome": "granted", "entitlement": "group:1:member", "principal": "user:1"})
    );
}

#[tokio::test]
async fn failures_map_to_their_exit_codes() {
    let cases: [(&[&str], (u8, &str)); 6] = [
        (
            &["grant", "group:1:member"],
            (2, "expected ENTITLEMENT PRINCIPAL, got 1 word(s)"),
        ),
        (
            &["grant", "group:1", "user:1"],
            (
                2,
                "entitlement group:1: invalid entitlement id \"group:1\": expected 3 \
                 `:`-separated percent-encoded components",
            ),
        ),
        (
            &["--failing-writes", "1", "grant", "group:1:member", "user:1"],
            (
                1,
                "grant group:1:member to user:1 failed: upstream unavailable: the upstream refused \
                 the write (fault)",
            ),
        ),
        (
            &["grant", "role:1:member", "user:1"],
            (2, "resource type `role` has no provisioner"),
        ),
        (
            &["action", "delete_user", "--user-id", "1"],
            (
                2,
                "invalid value 'delete_user' for NAME: the actions are touch_user",
            ),
        ),
        (
            &["--read-only", "revoke", "group:1:member", "user:2"],
            (2, "read-only: no writes"),
        ),
    ];
    for (args, expected) in cases {
        let error = run(DefaultCommand::None, args).await.unwrap_err();
        assert_eq!(
            (error.exit_code(), error.chain().as_str()),
            expected,
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn actions_read_their_arguments_by_schema() {
    let out = run(
        DefaultCommand::None,
        &["action", "touch_user", "--user-id", "4", "--force", "true"],
    )
    .await
    .unwrap();
    assert_eq!(out, "ran touch_user: user_id=4\n");
    let out = run(
        DefaultCommand::None,
        &["--json", "action", "touch_user", "--user-id", "4"],
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"outcome": "done", "action": "touch_user", "result": {"user_id": "4"}})
    );
    let error = run(
        DefaultCommand::None,
        &["action", "touch_user", "--force", "maybe"],
    )
    .await
    .unwrap_err();
    assert_eq!(
        (error.exit_code(), error.chain().as_str()),
        (
            2,
            "action touch_user: --force: \"maybe\" is not true or false"
        )
    );
    let error = run(DefaultCommand::None, &["action", "touch_user"])
        .await
        .unwrap_err();
    assert_eq!(
        (error.exit_code(), error.chain().as_str()),
        (
            2,
            "action `touch_user`: missing required argument `user_id`"
        )
    );
    // The fake creates no accounts.
    let error = run(DefaultCommand::None, &["create-account", "--login", "x"])
        .await
        .unwrap_err();
    assert_eq!(
        (error.exit_code(), error.chain().as_str()),
        (2, "the connector does not create accounts")
    );
}

#[tokio::test]
async fn capabilities_print_the_manifest() {
    let out = run(DefaultCommand::None, &["capabilities", "--json"])
        .await
        .unwrap();
    let expected = FakeTenant::new(Shape::default())
        .registry_for("fake tenant")
        .manifest()
        .to_json();
    assert_eq!(out, expected);
    let out = run(DefaultCommand::None, &["capabilities"]).await.unwrap();
    assert!(
        out.contains("  group            sync, provision\n"),
        "{out}"
    );
    assert!(
        out.contains("  touch_user --user-id VALUE [--force VALUE]\n"),
        "{out}"
    );
}

#[tokio::test]
async fn serve_refuses_without_a_token_before_opening() {
    // The token is read from SERVICE_TOKEN; this test's process never sets it.
    assert!(std::env::var_os("SERVICE_TOKEN").is_none());
    let error = run(DefaultCommand::Serve, &["--listen", "127.0.0.1:0"])
        .await
        .unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.message().starts_with("SERVICE_TOKEN is not set"),
        "{error}"
    );
    let error = run(
        DefaultCommand::None,
        &["serve", "--insecure-no-auth", "--listen", "0.0.0.0:0"],
    )
    .await
    .unwrap_err();
    assert!(
        error
            .message()
            .starts_with("--insecure-no-auth is refused on 0.0.0.0:0"),
        "{error}"
    );
}

#[tokio::test]
async fn version_is_the_connectors() {
    let out = run(DefaultCommand::None, &["--version"]).await.unwrap();
    assert_eq!(out, "fake 9.8.7\n");
}

/// A connector whose flags take built-in names.
struct Colliding;

#[derive(Debug, clap::Args)]
struct CollidingArgs {
    /// Collides with `serve -f/--file`.
    #[arg(long, short = 'f')]
    file: Option<String>,
    /// Collides with `sync --out`.
    #[arg(long)]
    out: Option<String>,
    /// Its own.
    #[arg(long)]
    region: Option<String>,
}

#[async_trait]
impl ConnectorCli for Colliding {
    type Args = CollidingArgs;

    fn version(&self) -> &'static str {
        "1.0.0"
    }

    async fn open(&self, _args: &CollidingArgs, _for: OpenFor) -> Result<Opened, CliError> {
        Err(CliError::usage("never opened"))
    }
}

#[tokio::test]
async fn a_connector_flag_with_a_built_in_name_is_refused() {
    let cli = || Cli::new("colliding", Colliding);
    let expected = "the connector's flags take names the command line keeps for its own: \
                    --file, -f, --out";
    assert_eq!(cli().check_flags().unwrap_err().message(), expected);
    let error = cli().run_from(["colliding", "sync"]).await.unwrap_err();
    assert_eq!(error.message(), expected);
    assert_eq!(error.exit_code(), 2);
    // The fake's own flags take no built-in name.
    assert!(Cli::new("fake", Fake).check_flags().is_ok());
}
