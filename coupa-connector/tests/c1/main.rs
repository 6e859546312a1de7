//! The Coupa connector as a ConductorOne self-hosted connector: a task list of sync, grant,
//! revoke, create account, disable and enable, run against the fake control plane on the
//! simulated fixture tenant, with exactly the expected effects.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use c1_service_mode::testing::{FakeControlPlane, ScriptedTask, TaskResult};
use c1_service_mode::{Config, ServiceMode};
use connector_sdk::{EntitlementId, Grant, MemoryStore, ResourceId};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use coupa_sim::{CoupaSim, Tenant};
use serde_json::{Map, Value, json};

fn member(kind: &str, id: &str) -> EntitlementId {
    EntitlementId::new(ResourceId::new(kind, id), "member")
}

fn user(id: i64) -> ResourceId {
    ResourceId::new("user", id.to_string())
}

/// Runs the Coupa connector on `sim` in service mode against `plane`, one task at a time, until
/// `n` tasks are finished; what they finished with.
async fn run_tasks(
    sim: &CoupaSim,
    plane: &FakeControlPlane,
    provisioning: bool,
    n: usize,
) -> Vec<c1_service_mode::testing::Finished> {
    let client =
        coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret())
            .unwrap();
    let connector = CoupaConnector::new(ConnectorConfig::new(client)).unwrap();
    let config = Config::new(plane.client_id(), plane.client_secret())
        .unwrap()
        .with_ca_bundle_pem(plane.ca_pem())
        .with_provisioning(provisioning)
        .with_concurrency(1)
        .with_min_poll(Duration::from_millis(10));
    let mode =
        ServiceMode::new(connector.registry(), Arc::new(MemoryStore::new()), config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(mode.run(async move {
        let _ = stopped.await;
    }));
    let finished = plane.wait_finished(n, Duration::from_secs(30)).await;
    let _ = stop.send(());
    running.await.unwrap();
    finished
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conductorone_task_list_runs_end_to_end_on_the_simulator() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let before = sim.tenant();
    assert!(!before.users[&3].user_groups.contains(&11));
    assert!(before.users[&1].roles.contains(&1));
    assert!(before.users[&2].active);
    let plane = FakeControlPlane::start().await;
    let tasks = [
        plane.push(ScriptedTask::sync_full()),
        plane.push(ScriptedTask::grant(&member("group", "11"), &user(3))),
        plane.push(ScriptedTask::revoke(&Grant::new(
            member("role", "1"),
            user(1),
        ))),
        plane.push(ScriptedTask::create_account(
            "kat",
            "kat@example.com",
            &object(json!({"first_name": "Katherine", "last_name": "Johnson",
                "display": "ignored: not in the account schema"})),
        )),
        plane.push(ScriptedTask::action(
            "disable_user",
            &object(json!({"user_id": "2"})),
        )),
        plane.push(ScriptedTask::action(
            "enable_user",
            &object(json!({"user_id": "2"})),
        )),
        // Ada's email under a new login: a conflict, never Ada's account.
        plane.push(ScriptedTask::create_account(
            "ada2",
            "ada@example.com",
            &object(json!({"first_name": "Ada", "last_name": "Two"})),
        )),
    ];
    let finished = run_tasks(&sim, &plane, true, 7).await;

    // One at a time, in order, every one but the last a success.
    let ids: Vec<&str> = finished.iter().map(|f| f.task_id.as_str()).collect();
    assert_eq!(ids, tasks.iter().map(String::as_str).collect::<Vec<_>>());
    for f in &finished[..6] {
        assert!(matches!(f.result, TaskResult::Success { .. }), "{f:?}");
    }
    assert_eq!(
        finished[6].result,
        TaskResult::Error {
            code: 9, // FAILED_PRECONDITION
            message: "create account failed: conflict: the email \"ada@example.com\" belongs to \
                      Coupa user 1 (login \"ada\"), not to the login \"ada2\"; nothing was \
                      created"
                .into(),
            non_retryable: true,
        }
    );
    // The sync: a .c1z of the fixture's 18 grants.
    let upload = &plane.uploads()[0];
    assert!(upload.checksum_ok);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    std::fs::write(&file, &upload.bytes).unwrap();
    let reader = c1z::Reader::open(&file).unwrap();
    assert_eq!(reader.grants().count(), 18);
    // The writes, exactly.
    let after = sim.tenant();
    assert_eq!(
        finished[1].grants(),
        [Grant::new(member("group", "11"), user(3))]
    );
    assert_eq!(
        after.users[&3].user_groups,
        before.users[&3]
            .user_groups
            .iter()
            .copied()
            .chain([11])
            .collect()
    );
    let mut roles = before.users[&1].roles.clone();
    roles.remove(&1);
    assert_eq!(after.users[&1].roles, roles);
    let (account, created) = finished[3].account().unwrap();
    assert!(created);
    assert_eq!(account.id, user(4));
    let kat = &after.users[&4];
    assert_eq!(
        (
            kat.login.as_str(),
            kat.email.as_str(),
            kat.firstname.as_str(),
            kat.lastname.as_str()
        ),
        ("kat", "kat@example.com", "Katherine", "Johnson")
    );
    assert_eq!(
        finished[4].action_result(),
        Some(object(
            json!({"user_id": "2", "status": "disabled", "changed": true})
        ))
    );
    assert_eq!(
        finished[5].action_result(),
        Some(object(
            json!({"user_id": "2", "status": "enabled", "changed": true})
        ))
    );
    assert!(after.users[&2].active);
    // Nothing else changed.
    for id in [2, 1] {
        assert_eq!(after.users[&id].user_groups, before.users[&id].user_groups);
        assert_eq!(after.users[&id].licenses, before.users[&id].licenses);
    }
    assert_eq!(after.users.len(), before.users.len() + 1);
}

/// ConductorOne selects the resource types to sync: only those are synced and uploaded, grants
/// of other types are left out, and the accounting scope (for account groups) is never asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_task_syncs_only_the_resource_types_it_selects() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let plane = FakeControlPlane::start().await;
    let selected = plane.push(ScriptedTask::sync_of(&["user", "role", "no_such_type"]));
    let nothing_known = plane.push(ScriptedTask::sync_of(&["no_such_type"]));
    let finished = run_tasks(&sim, &plane, false, 2).await;
    assert_eq!(finished[0].task_id, selected);
    assert!(
        matches!(finished[0].result, TaskResult::Success { .. }),
        "{finished:?}"
    );
    assert_eq!(finished[1].task_id, nothing_known);
    assert!(
        matches!(&finished[1].result, TaskResult::Error { code: 3, non_retryable: true, message }
            if message.starts_with("the sync task selects only resource types this connector does not have (no_such_type)")),
        "{:?}",
        finished[1].result
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    std::fs::write(&file, &plane.uploads()[0].bytes).unwrap();
    let reader = c1z::Reader::open(&file).unwrap();
    let mut types: Vec<String> = reader
        .resources()
        .map(|r| r.unwrap().id.resource_type.to_string())
        .collect();
    types.dedup();
    assert_eq!(types, ["role", "user"]);
    let grants: Vec<String> = reader
        .grants()
        .map(|g| g.unwrap().id().to_string())
        .collect();
    // The fixture's role memberships, and nothing else.
    assert_eq!(
        grants,
        [
            "role:1:member:user:1",
            "role:2:member:user:1",
            "role:2:member:user:2",
            "role:2:member:user:3"
        ]
    );
    assert_eq!(sim.count("GET", "/api/account_groups"), 0);
    for scopes in sim.token_scopes() {
        assert!(
            !scopes.contains(&"core.accounting.read".to_owned()),
            "{scopes:?}"
        );
    }
}
