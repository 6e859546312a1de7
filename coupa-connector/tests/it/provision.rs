use std::collections::BTreeSet;

use connector_sdk::{
    CreateAccountOutcome, EntitlementId, Error, Grant, GrantOutcome, Registry, ResourceId,
    RevokeOutcome,
};
use coupa_sim::{AccessList, CoupaSim, Fault, FaultKind, ListWrite, Named, SimOptions, Tenant};
use serde_json::{Map, Value, json};

use crate::connector;

pub fn registry(sim: &CoupaSim) -> Registry {
    connector(sim).registry()
}

pub fn user(id: i64) -> ResourceId {
    ResourceId::new("user", id.to_string())
}

pub fn ent(resource_type: &str, id: &str) -> EntitlementId {
    let slug = if resource_type == "license" {
        "assigned"
    } else {
        "member"
    };
    EntitlementId::new(ResourceId::new(resource_type, id), slug)
}

/// The `approver` entitlement of user group `id`.
pub fn approver(id: &str) -> EntitlementId {
    EntitlementId::new(ResourceId::new("group", id), "approver")
}

/// The connector's error behind an SDK error, with its own sources, as one line.
pub fn cause(err: &Error) -> String {
    std::error::Error::source(err)
        .map(connector_sdk::error_chain)
        .unwrap_or_default()
}

pub fn args(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// The state of the list (or license flag, as 0/1) an entitlement touches.
fn state(sim: &CoupaSim, user: i64, entitlement: &EntitlementId) -> BTreeSet<String> {
    let tenant = sim.tenant();
    let u = &tenant.users[&user];
    let ids = |set: &BTreeSet<i64>| set.iter().map(ToString::to_string).collect();
    match entitlement.resource.resource_type.as_str() {
        "group" => ids(&u.user_groups),
        "role" => ids(&u.roles),
        "account_group" => ids(&u.account_groups),
        "content_group" => ids(&u.content_groups),
        "license" => u.licenses.clone(),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn round_trips_for_every_entitlement_type() {
    let cases = [
        (3, ent("group", "11")),
        (2, ent("role", "3")),
        (3, ent("license", "expense-user")),
        (2, ent("account_group", "20")),
        (3, ent("content_group", "31")),
    ];
    for (u, entitlement) in cases {
        let sim = CoupaSim::start(Tenant::fixture()).await;
        let registry = registry(&sim);
        let before = state(&sim, u, &entitlement);
        assert!(!before.contains(&entitlement.resource.id), "{entitlement}");
        assert_eq!(
            registry
                .grant(connector_sdk::GrantRequest::new(
                    user(u),
                    entitlement.clone()
                ))
                .await
                .unwrap(),
            GrantOutcome::granted(vec![Grant::new(entitlement.clone(), user(u))]),
            "the outcome carries the grant made"
        );
        let mut with = before.clone();
        with.insert(entitlement.resource.id.clone());
        assert_eq!(state(&sim, u, &entitlement), with, "{entitlement}");
        assert_eq!(
            registry
                .grant(connector_sdk::GrantRequest::new(
                    user(u),
                    entitlement.clone()
                ))
                .await
                .unwrap(),
            GrantOutcome::AlreadyGranted
        );
        let grant = Grant::new(entitlement.clone(), user(u));
        assert_eq!(
            registry
                .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                .await
                .unwrap(),
            RevokeOutcome::Revoked
        );
        assert_eq!(state(&sim, u, &entitlement), before, "{entitlement}");
        assert_eq!(
            registry
                .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                .await
                .unwrap(),
            RevokeOutcome::AlreadyRevoked
        );
        // Already-done calls read and write nothing more.
        let puts = sim.requests().iter().filter(|r| r.method == "PUT").count();
        // Roles only grow on a write: the revoke's shorter list is kept, then cleared and set.
        let expected_puts = if entitlement.resource.resource_type.as_str() == "role" {
            4
        } else {
            2
        };
        assert_eq!(puts, expected_puts, "{entitlement}");
    }
}

#[tokio::test]
async fn a_grant_reads_with_a_projection_then_writes_the_full_list() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    registry
        .grant(connector_sdk::GrantRequest::new(
            user(1),
            ent("group", "12"),
        ))
        .await
        .unwrap();
    let api: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect();
    let projection = Some(r#"["id",{"user-groups":["id"]}]"#);
    let seen: Vec<_> = api
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.param("fields")))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "/api/users/1", projection),
            ("PUT", "/api/users/1", projection),
            ("GET", "/api/users/1", projection),
        ],
        "read, write asking for the list back, verify"
    );
    assert_eq!(sim.tenant().users[&1].user_groups, [10, 11, 12].into());
}

#[tokio::test]
async fn an_unknown_group_id_is_reported_not_granted() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let err = registry(&sim)
        .grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("group", "999"),
        ))
        .await
        .unwrap_err();
    let Error::Operation { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        source.to_string(),
        "not found: Coupa ignored user-groups id 999 when writing user 2's user-groups (it does not exist); the list reads [10]"
    );
    assert_eq!(sim.tenant().users[&2].user_groups, [10].into());
    let err = registry(&sim)
        .grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("group", "abc"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "invalid argument: group id \"abc\" is not a positive integer in canonical form"
    );
    let err = registry(&sim)
        .grant(connector_sdk::GrantRequest::new(
            user(77),
            ent("group", "10"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "not found: Coupa has no such record: not found: GET /api/users/77"
    );
    // The client's error is the source: its status and path are recoverable.
    let Error::Operation { source, .. } = &err else {
        panic!("{err:?}")
    };
    let client = std::error::Error::source(source)
        .and_then(|s| s.downcast_ref::<coupa_client::Error>())
        .unwrap();
    assert_eq!(client.status(), Some(404));
    let err = registry(&sim)
        .grant(connector_sdk::GrantRequest::new(
            ResourceId::new("group", "10"),
            ent("group", "11"),
        ))
        .await
        .unwrap_err();
    assert!(cause(&err).contains("is not a user"));
}

#[tokio::test]
async fn role_revoke_in_both_role_modes() {
    for mode in [ListWrite::AdditiveUnlessEmpty, ListWrite::Replace] {
        let options = SimOptions::default().with_list_write(AccessList::Roles, mode);
        let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
        let grant = Grant::new(ent("role", "1"), user(1));
        assert_eq!(
            registry(&sim)
                .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                .await
                .unwrap(),
            RevokeOutcome::Revoked
        );
        assert_eq!(sim.tenant().users[&1].roles, [2].into(), "{mode:?}");
        let puts: Vec<String> = sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .map(|r| r.path)
            .collect();
        let (expected, what) = match mode {
            ListWrite::AdditiveUnlessEmpty => {
                (3, "the shorter list kept the role: clear, then set")
            }
            _ => (1, "the shorter list replaced the roles"),
        };
        assert_eq!(puts.len(), expected, "{what}");
        // Revoking the last role, through a connector that has seen how roles behave.
        let registry = self::registry(&sim);
        assert_eq!(
            registry
                .revoke(connector_sdk::RevokeRequest::new(Grant::new(
                    ent("role", "2"),
                    user(2)
                )))
                .await
                .unwrap(),
            RevokeOutcome::Revoked
        );
        sim.clear_log();
        assert_eq!(
            registry
                .revoke(connector_sdk::RevokeRequest::new(Grant::new(
                    ent("role", "2"),
                    user(3)
                )))
                .await
                .unwrap(),
            RevokeOutcome::Revoked
        );
        assert!(sim.tenant().users[&3].roles.is_empty());
        let puts = sim.requests().iter().filter(|r| r.method == "PUT").count();
        assert_eq!(
            puts, 1,
            "{mode:?}: clearing the last role is one write either way"
        );
    }
}

#[tokio::test]
async fn an_additive_group_list_falls_back_to_clear_then_set() {
    let options = SimOptions::default()
        .with_list_write(AccessList::UserGroups, ListWrite::AdditiveUnlessEmpty);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let grant = Grant::new(ent("group", "10"), user(1));
    assert_eq!(
        registry(&sim)
            .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
            .await
            .unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(sim.tenant().users[&1].user_groups, [11].into());
}

#[tokio::test]
async fn approvers_are_granted_and_revoked_through_the_users_approval_groups() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    // ada approves for Approvers (11); she becomes an approver of Finance (10) too.
    let outcome = registry
        .grant(connector_sdk::GrantRequest::new(user(1), approver("10")))
        .await
        .unwrap();
    assert_eq!(
        outcome.grants(),
        [Grant::new(approver("10"), user(1))].as_slice()
    );
    let tenant = sim.tenant();
    assert_eq!(tenant.users[&1].approval_groups, [10, 11].into());
    assert_eq!(
        tenant.users[&1].user_groups,
        [10, 11].into(),
        "memberships untouched"
    );
    // The write was read with a projection of approval-groups and written as that list.
    let puts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    assert!(
        sim.requests().iter().any(|r| r.method == "GET"
            && r.path == "/api/users/1"
            && r.param("fields") == Some(r#"["id",{"approval-groups":["id"]}]"#)),
        "{:?}",
        sim.requests()
    );
    assert_eq!(
        registry
            .grant(connector_sdk::GrantRequest::new(user(1), approver("10")))
            .await
            .unwrap(),
        GrantOutcome::AlreadyGranted
    );
    // grace stops approving for Approvers.
    assert_eq!(
        registry
            .revoke(connector_sdk::RevokeRequest::new(Grant::new(
                approver("11"),
                user(2)
            )))
            .await
            .unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(sim.tenant().users[&2].approval_groups, [10].into());
    // A slug user groups do not offer.
    let err = registry
        .grant(connector_sdk::GrantRequest::new(
            user(1),
            EntitlementId::new(ResourceId::new("group", "10"), "owner"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "not found: `group:10:owner`: group resources only offer `member` and `approver`"
    );
}

#[tokio::test]
async fn an_additive_approver_list_is_removed_with_clear_then_set() {
    let options = SimOptions::default()
        .with_list_write(AccessList::ApprovalGroups, ListWrite::AdditiveUnlessEmpty);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let store = std::sync::Arc::new(connector_sdk::MemoryStore::new());
    let registry = registry(&sim).with_journal(store.clone());
    assert_eq!(
        registry
            .revoke(connector_sdk::RevokeRequest::new(Grant::new(
                approver("10"),
                user(2)
            )))
            .await
            .unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(sim.tenant().users[&2].approval_groups, [11].into());
    // Plain write, then clear and set: three PUTs, and the intent recorded and closed.
    let bodies = sim.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(bodies, 3);
    use connector_sdk::journal::Journal;
    assert!(store.open_intents("coupa").unwrap().is_empty());
}

#[tokio::test]
async fn a_tenant_that_refuses_approval_fields_refuses_approver_writes() {
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_approval_fields_rejected(),
    )
    .await;
    let registry = registry(&sim);
    let before = sim.tenant();
    let err = registry
        .grant(connector_sdk::GrantRequest::new(user(3), approver("11")))
        .await
        .unwrap_err();
    assert!(
        cause(&err).starts_with("invalid argument: Coupa refused the request"),
        "{}",
        cause(&err)
    );
    assert_eq!(
        sim.requests().iter().filter(|r| r.method == "PUT").count(),
        0
    );
    assert_eq!(sim.tenant(), before);
}

#[tokio::test]
async fn a_failing_second_role_write_is_retried_then_restored() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    registry.validate().await.unwrap();
    // Writes: the shorter list (kept: roles only grow), the clear, the set and its retry. The
    // set fails twice: the original roles come back.
    sim.inject(Fault::nth("PUT", "/api/users/1", 3, FaultKind::Status(500)));
    sim.inject(Fault::nth("PUT", "/api/users/1", 4, FaultKind::Status(503)));
    let err = registry
        .revoke(connector_sdk::RevokeRequest::new(Grant::new(
            ent("role", "1"),
            user(1),
        )))
        .await
        .unwrap_err();
    let message = cause(&err);
    assert!(
        message.ends_with("the original list was restored: it reads [1, 2]"),
        "{message}"
    );
    assert_eq!(sim.tenant().users[&1].roles, [1, 2].into());
    // The connector now knows roles only grow: clear, then set. The set fails once and its
    // retry succeeds.
    sim.inject(Fault::nth("PUT", "/api/users/1", 2, FaultKind::Status(500)));
    let outcome = registry
        .revoke(connector_sdk::RevokeRequest::new(Grant::new(
            ent("role", "1"),
            user(1),
        )))
        .await
        .unwrap();
    assert_eq!(outcome, RevokeOutcome::Revoked);
    assert_eq!(sim.tenant().users[&1].roles, [2].into());
}

/// One provisioning operation, its user, entitlement and intended effect.
#[derive(Clone)]
enum Op {
    Grant(i64, EntitlementId),
    Revoke(i64, EntitlementId),
    Active(i64, bool),
}

async fn run(registry: &Registry, op: &Op) -> bool {
    match op {
        Op::Grant(u, e) => registry
            .grant(connector_sdk::GrantRequest::new(user(*u), e.clone()))
            .await
            .is_ok(),
        Op::Revoke(u, e) => registry
            .revoke(connector_sdk::RevokeRequest::new(Grant::new(
                e.clone(),
                user(*u),
            )))
            .await
            .is_ok(),
        Op::Active(u, active) => {
            let name = if *active {
                "enable_user"
            } else {
                "disable_user"
            };
            registry
                .run_action(
                    name,
                    args(json!({"user_id": u.to_string()})),
                    connector_sdk::CallContext::default(),
                )
                .await
                .is_ok()
        }
    }
}

fn snapshot(sim: &CoupaSim, op: &Op) -> BTreeSet<String> {
    match op {
        Op::Grant(u, e) | Op::Revoke(u, e) => state(sim, *u, e),
        Op::Active(u, _) => [sim.tenant().users[u].active.to_string()].into(),
    }
}

fn intended(before: &BTreeSet<String>, op: &Op) -> BTreeSet<String> {
    let mut after = before.clone();
    match op {
        Op::Grant(_, e) => {
            after.insert(e.resource.id.clone());
        }
        Op::Revoke(_, e) => {
            after.remove(&e.resource.id);
        }
        Op::Active(_, active) => after = [active.to_string()].into(),
    }
    after
}

#[tokio::test]
async fn faults_at_every_request_leave_the_old_or_the_intended_access() {
    let ops = [
        Op::Grant(3, ent("group", "11")),
        Op::Revoke(1, ent("group", "10")),
        Op::Grant(2, ent("role", "1")),
        Op::Revoke(1, ent("role", "1")),
        Op::Grant(3, ent("license", "expense-user")),
        Op::Revoke(1, ent("license", "purchasing-user")),
        Op::Grant(2, ent("account_group", "21")),
        Op::Revoke(2, ent("content_group", "31")),
        Op::Active(1, false),
        Op::Active(3, true),
    ];
    fault_matrix(SimOptions::default(), &ops).await;
}

/// The same with newer license flags hidden from unprojected answers and write answers that
/// ignore `fields`, so every verification is a projected re-read.
#[tokio::test]
async fn faults_with_hidden_fields_leave_the_old_or_the_intended_access() {
    let options = SimOptions::default()
        .with_newer_licenses_hidden()
        .with_projected_write_answers(false);
    let ops = [
        Op::Grant(2, ent("license", "intake-user")),
        Op::Revoke(1, ent("group", "10")),
        Op::Revoke(1, ent("role", "1")),
        Op::Active(1, false),
    ];
    fault_matrix(options, &ops).await;
}

/// Runs each operation with a fault (500, dropped connection, invalid JSON) at each position of
/// its requests: the user ends with the old or the intended access, and success means intended.
async fn fault_matrix(options: SimOptions, ops: &[Op]) {
    for op in ops {
        // How many API requests the operation makes without faults.
        let sim = CoupaSim::start_with(Tenant::fixture(), options.clone()).await;
        let registry = registry(&sim);
        registry.validate().await.unwrap();
        sim.clear_log();
        assert!(run(&registry, op).await);
        let requests = sim.requests().len();
        assert!(requests >= 2);
        for position in 1..=requests {
            for kind in [
                FaultKind::Status(500),
                FaultKind::DropConnection,
                FaultKind::InvalidJson,
            ] {
                let sim = CoupaSim::start_with(Tenant::fixture(), options.clone()).await;
                let registry = self::registry(&sim);
                registry.validate().await.unwrap();
                let before = snapshot(&sim, op);
                let goal = intended(&before, op);
                sim.inject(Fault::any_method("/api/*", position, kind.clone()));
                let ok = run(&registry, op).await;
                let after = snapshot(&sim, op);
                let label = format!("position {position} of {requests}, {kind:?}");
                assert!(
                    after == before || after == goal,
                    "{label}: {before:?} -> {after:?}"
                );
                if ok {
                    assert_eq!(after, goal, "{label}: success must mean the intended state");
                }
            }
        }
    }
}

#[tokio::test]
async fn ten_concurrent_grants_to_one_user_all_land() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    sim.update_tenant(|t| {
        for id in 100..110 {
            t.user_groups
                .insert(id, Named::new(id, &format!("Team {id}")));
        }
    });
    let registry = registry(&sim);
    let grants = (100..110).map(|id| {
        let registry = registry.clone();
        tokio::spawn(async move {
            registry
                .grant(connector_sdk::GrantRequest::new(
                    user(2),
                    ent("group", &id.to_string()),
                ))
                .await
        })
    });
    for grant in futures_join(grants).await {
        assert!(grant.unwrap().is_granted());
    }
    let groups = sim.tenant().users[&2].user_groups.clone();
    assert_eq!(
        groups,
        [10, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109].into()
    );
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn account_creation() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    let fields = json!({"login": "kat", "email": "kat@example.com", "first_name": "Katherine",
        "last_name": "Johnson", "employee_number": "E777", "licenses": ["expense-user"],
        "manager_login": "ada", "default_currency": "USD"});
    let outcome = registry
        .create_account(args(fields.clone()), connector_sdk::CallContext::default())
        .await
        .unwrap();
    let CreateAccountOutcome::Created(created) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(created.id, user(4));
    let tenant = sim.tenant();
    let kat = &tenant.users[&4];
    assert_eq!(
        (
            kat.login.as_str(),
            kat.firstname.as_str(),
            kat.employee_number.as_deref()
        ),
        ("kat", "Katherine", Some("E777"))
    );
    assert!(kat.licenses.contains("expense-user"));

    // The same login again: already exists, with the existing user.
    let outcome = registry
        .create_account(args(fields), connector_sdk::CallContext::default())
        .await
        .unwrap();
    let CreateAccountOutcome::AlreadyExists(existing) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(existing.id, user(4));
    // An email that belongs to another login is a conflict, never "already exists": that
    // would link the new identity to Ada's account.
    let posts = sim.count("POST", "/api/users");
    let err = registry
        .create_account(args(json!({"login": "new", "email": "ada@example.com", "first_name": "N", "last_name": "N"})), connector_sdk::CallContext::default())
        .await
        .unwrap_err();
    let Error::Operation { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(source.kind(), connector_sdk::ErrorKind::Conflict);
    assert_eq!(
        connector_sdk::error_chain(&err),
        "create account failed: conflict: the email \"ada@example.com\" belongs to Coupa user 1 \
         (login \"ada\"), not to the login \"new\"; nothing was created"
    );
    assert_eq!(sim.count("POST", "/api/users"), posts);

    // A missing required field never reaches Coupa.
    let posts = sim.count("POST", "/api/users");
    let err = registry
        .create_account(
            args(json!({"login": "x", "email": "x@example.com", "first_name": "X"})),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "create account: missing required argument `last_name`"
    );
    assert_eq!(sim.count("POST", "/api/users"), posts);
    let err = registry.create_account(args(json!({"login": "x", "email": "x@e.com", "first_name": "X", "last_name": "Y", "licenses": ["gold-user"]})), connector_sdk::CallContext::default()).await.unwrap_err();
    assert!(cause(&err).contains("`gold-user` is not a Coupa license flag"));

    // Coupa's own validation errors come back with its messages.
    let err = registry
        .create_account(args(json!({"login": "dup", "email": "dup@example.com", "first_name": "D", "last_name": "U", "employee_number": "E777"})), connector_sdk::CallContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "invalid argument: Coupa refused the account: Coupa answered HTTP 400 to POST \
         /api/users: Employee number has already been taken"
    );
}

#[tokio::test]
async fn enable_and_disable_twice_each() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    let call = |name: &'static str, id: Value| {
        let registry = registry.clone();
        async move {
            registry
                .run_action(
                    name,
                    args(json!({"user_id": id})),
                    connector_sdk::CallContext::default(),
                )
                .await
        }
    };
    let out = call("disable_user", json!("1")).await.unwrap();
    assert_eq!(
        Value::Object(out.into_map()),
        json!({"user_id": "1", "status": "disabled", "changed": true})
    );
    let out = call("disable_user", json!("1")).await.unwrap();
    assert_eq!(
        Value::Object(out.into_map()),
        json!({"user_id": "1", "status": "disabled", "changed": false})
    );
    assert!(!sim.tenant().users[&1].active);
    let out = call("enable_user", json!("1")).await.unwrap();
    assert_eq!(out.as_map()["changed"], true);
    let out = call("enable_user", json!("1")).await.unwrap();
    assert_eq!(
        Value::Object(out.into_map()),
        json!({"user_id": "1", "status": "enabled", "changed": false})
    );
    assert!(sim.tenant().users[&1].active);

    let before = sim.requests().len();
    for bad in [json!("abc"), json!("-3"), json!("0"), json!("")] {
        let err = call("enable_user", bad.clone()).await.unwrap_err();
        let source = cause(&err);
        assert!(
            source.contains("invalid argument `user_id`"),
            "{bad}: {source}"
        );
    }
    let err = call("enable_user", json!(5)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "action `enable_user`: argument `user_id` must be a string, got integer"
    );
    let err = registry
        .run_action(
            "enable_user",
            args(json!({"userId": "1"})),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "action `enable_user`: unknown argument `userId`"
    );
    assert_eq!(
        sim.requests().len(),
        before,
        "no request for a bad argument"
    );
    let err = call("disable_user", json!("99")).await.unwrap_err();
    assert!(cause(&err).contains("not found"));
}

#[tokio::test]
async fn the_test_kit_round_trip_on_the_coupa_connector() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    connector_sdk::testing::check_provisioning(&registry, &user(3), &ent("group", "11"))
        .await
        .unwrap();
    connector_sdk::testing::check_provisioning(&registry, &user(3), &ent("license", "travel-user"))
        .await
        .unwrap();
    let (now, fixture) = (sim.tenant(), Tenant::fixture());
    for list in AccessList::ALL {
        assert_eq!(
            now.memberships(list, |_| true),
            fixture.memberships(list, |_| true)
        );
    }
    assert_eq!(
        now.license_holders(|_| true),
        fixture.license_holders(|_| true)
    );
}
