//! Writes that fail closed: absent keys, hidden fields, two-step faults, dropped futures, and
//! two writers on one user.

use std::time::Duration;

use connector_sdk::{CreateAccountOutcome, Error, Grant, GrantOutcome, RevokeOutcome};
use coupa_connector::WriteError;
use coupa_sim::{CoupaSim, Fault, FaultKind, SimOptions, Tenant, UngrantedScope};

use crate::connector;
use crate::provision::{cause, ent, registry, user};

/// The `WriteError` behind an SDK error.
fn write_error(err: &Error) -> &WriteError {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(found) = s.downcast_ref::<WriteError>() {
            return found;
        }
        source = s.source();
    }
    panic!("no WriteError behind {err:?}")
}

/// Makes the simulator answer `method path` with `response` instead of its own answer.
async fn answer(sim: &CoupaSim, method: &str, path: &str, response: wiremock::ResponseTemplate) {
    wiremock::Mock::given(wiremock::matchers::method(method))
        .and(wiremock::matchers::path(path))
        .respond_with(response)
        .with_priority(1)
        .mount(sim.server())
        .await;
}

fn puts(sim: &CoupaSim) -> usize {
    sim.requests().iter().filter(|r| r.method == "PUT").count()
}

#[tokio::test]
async fn newer_license_flags_round_trip_when_hidden_from_unprojected_answers() {
    for project_write_answers in [true, false] {
        let options = SimOptions::default()
            .with_newer_licenses_hidden()
            .with_projected_write_answers(project_write_answers);
        let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
        let registry = registry(&sim);
        let license = ent("license", "intake-user");
        let label = format!("write answers projected: {project_write_answers}");
        assert_eq!(
            registry
                .grant(connector_sdk::GrantRequest::new(user(2), license.clone()))
                .await
                .unwrap(),
            GrantOutcome::granted(vec![connector_sdk::Grant::new(license.clone(), user(2))]),
            "{label}"
        );
        assert!(sim.tenant().users[&2].licenses.contains("intake-user"));
        assert_eq!(
            registry
                .grant(connector_sdk::GrantRequest::new(user(2), license.clone()))
                .await
                .unwrap(),
            GrantOutcome::AlreadyGranted,
            "{label}"
        );
        let grant = Grant::new(license.clone(), user(2));
        assert_eq!(
            registry
                .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                .await
                .unwrap(),
            RevokeOutcome::Revoked,
            "{label}"
        );
        assert!(!sim.tenant().users[&2].licenses.contains("intake-user"));
        assert_eq!(
            registry
                .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                .await
                .unwrap(),
            RevokeOutcome::AlreadyRevoked,
            "{label}"
        );
        // Every read and write named the flag.
        for request in sim.requests().iter().filter(|r| r.path == "/api/users/2") {
            assert_eq!(
                request.param("fields"),
                Some(r#"["id","intake-user"]"#),
                "{label}"
            );
        }
    }
}

#[tokio::test]
async fn a_write_answer_without_the_flag_is_verified_by_a_read_not_trusted() {
    // A tenant that answers the write without applying it and without the key.
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_newer_licenses_hidden(),
    )
    .await;
    wiremock::Mock::given(wiremock::matchers::method("PUT"))
        .and(wiremock::matchers::path("/api/users/2"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 2})),
        )
        .mount(sim.server())
        .await;
    let err = registry(&sim)
        .grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("license", "intake-user"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "Coupa did not apply `intake-user` = true to user 2 (the flag reads false; it may be \
         output-only or not revocable in this tenant)"
    );
}

#[tokio::test]
async fn an_absent_or_null_list_is_an_error_and_nothing_is_written() {
    type Mask = fn(SimOptions, &str) -> SimOptions;
    let masks: [(&str, Mask); 2] = [
        ("absent", SimOptions::with_user_key_omitted),
        ("null", SimOptions::with_user_key_null),
    ];
    for ((mask, hide), (key, entitlement, held)) in masks.into_iter().flat_map(|m| {
        [
            (
                "account-groups",
                ent("account_group", "21"),
                ent("account_group", "20"),
            ),
            ("roles", ent("role", "3"), ent("role", "1")),
            ("user-groups", ent("group", "12"), ent("group", "10")),
            (
                "content-groups",
                ent("content_group", "31"),
                ent("content_group", "30"),
            ),
            (
                "approval-groups",
                crate::provision::approver("12"),
                crate::provision::approver("11"),
            ),
        ]
        .map(|case| (m, case))
    }) {
        let sim = CoupaSim::start_with(Tenant::fixture(), hide(SimOptions::default(), key)).await;
        let registry = registry(&sim);
        let before = sim.tenant().users[&1].clone();
        let err = registry
            .grant(connector_sdk::GrantRequest::new(
                user(1),
                entitlement.clone(),
            ))
            .await
            .unwrap_err();
        let hint = if key == "account-groups" {
            " (the token may lack `core.accounting.read`)"
        } else {
            ""
        };
        assert_eq!(
            write_error(&err),
            &WriteError::MissingKey {
                user: 1,
                key: key.into(),
                hint: hint.into()
            }
        );
        assert_eq!(
            cause(&err),
            format!(
                "Coupa's answer for user 1 has no usable `{key}` (absent or null) although it was \
                 projected; nothing was written{hint}"
            )
        );
        let err = registry
            .revoke(connector_sdk::RevokeRequest::new(Grant::new(held, user(1))))
            .await
            .unwrap_err();
        assert!(matches!(write_error(&err), WriteError::MissingKey { .. }));
        assert_eq!(puts(&sim), 0, "{mask} {key}: nothing was written");
        assert_eq!(sim.tenant().users[&1], before, "{mask} {key}");
    }
}

#[tokio::test]
async fn an_absent_active_flag_or_license_is_an_error_too() {
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default()
            .with_user_key_omitted("active")
            .with_user_key_omitted("expense-user"),
    )
    .await;
    let registry = registry(&sim);
    let err = registry
        .run_action(
            "disable_user",
            crate::provision::args(serde_json::json!({"user_id": "1"})),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(write_error(&err), WriteError::MissingKey { key, .. } if key == "active"));
    let err = registry
        .grant(connector_sdk::GrantRequest::new(
            user(3),
            ent("license", "expense-user"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(write_error(&err), WriteError::MissingKey { key, .. } if key == "expense-user")
    );
    assert_eq!(puts(&sim), 0);
}

/// Fails `GET /api/users/{user}` requests `from..from+4` after injection: enough to outlast the
/// client's retries of one read.
fn fail_reads(sim: &CoupaSim, user: i64, from: usize) {
    for nth in from..from + 4 {
        sim.inject(Fault::nth(
            "GET",
            &format!("/api/users/{user}"),
            nth,
            FaultKind::Status(500),
        ));
    }
}

#[tokio::test]
async fn a_clear_whose_answer_is_lost_and_whose_re_read_fails_still_finishes() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    registry.validate().await.unwrap();
    // PUTs: the shorter list (kept), the clear (applied, answer lost). GETs: the read, then the
    // re-read after the lost clear fails every attempt.
    sim.inject(Fault::nth(
        "PUT",
        "/api/users/1",
        2,
        FaultKind::DropConnection,
    ));
    fail_reads(&sim, 1, 2);
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

#[tokio::test]
async fn when_everything_after_the_clear_fails_the_error_says_the_user_may_have_no_roles() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    registry.validate().await.unwrap();
    sim.inject(Fault::nth(
        "PUT",
        "/api/users/1",
        2,
        FaultKind::DropConnection,
    ));
    fail_reads(&sim, 1, 2); // the re-read after the clear
    for nth in [3, 4, 5] {
        // the set, its retry, the restore
        sim.inject(Fault::nth(
            "PUT",
            "/api/users/1",
            nth,
            FaultKind::Status(500),
        ));
    }
    fail_reads(&sim, 1, 6); // the verification read
    fail_reads(&sim, 1, 10); // the read after the restore
    let err = registry
        .revoke(connector_sdk::RevokeRequest::new(Grant::new(
            ent("role", "1"),
            user(1),
        )))
        .await
        .unwrap_err();
    let error = write_error(&err);
    assert!(
        matches!(error, WriteError::PartialRemoval { restored: false, now: None, before, .. } if before == "[1, 2]"),
        "{error:?}"
    );
    assert!(
        cause(&err).ends_with(
            "restoring [1, 2] failed and the list could not be read: the user may be left \
             with no entries"
        ),
        "{}",
        cause(&err)
    );
    assert!(sim.tenant().users[&1].roles.is_empty(), "the clear landed");
}

#[tokio::test]
async fn a_failed_restore_reports_the_exact_list_left() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    registry.validate().await.unwrap();
    for nth in [3, 4, 5] {
        // the set, its retry, the restore
        sim.inject(Fault::nth(
            "PUT",
            "/api/users/1",
            nth,
            FaultKind::Status(500),
        ));
    }
    let err = registry
        .revoke(connector_sdk::RevokeRequest::new(Grant::new(
            ent("role", "1"),
            user(1),
        )))
        .await
        .unwrap_err();
    assert_eq!(
        write_error(&err),
        &WriteError::PartialRemoval {
            user: 1,
            key: "roles".into(),
            reason: "setting [2] failed: Coupa answered HTTP 500 to PUT \
                     /api/users/1: simulated failure; after clear-then-set the list reads []"
                .into(),
            before: "[1, 2]".into(),
            restored: false,
            now: Some("[]".into()),
        }
    );
    assert!(cause(&err).ends_with("restoring [1, 2] failed: the user is left with []"));
}

#[tokio::test]
async fn dropping_the_caller_between_clear_and_set_still_finishes_the_removal() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    registry.validate().await.unwrap();
    // The clear is applied at once but answered late; the caller gives up before the answer.
    sim.inject(Fault::nth(
        "PUT",
        "/api/users/1",
        2,
        FaultKind::Delay(Duration::from_millis(1000)),
    ));
    let grant = Grant::new(ent("role", "1"), user(1));
    let revoke = registry.revoke(connector_sdk::RevokeRequest::new(grant.clone()));
    let gave_up = tokio::time::timeout(Duration::from_millis(400), revoke).await;
    assert!(gave_up.is_err(), "the caller stopped waiting");
    assert!(
        sim.tenant().users[&1].roles.is_empty(),
        "cleared, not yet set"
    );
    let mut roles = sim.tenant().users[&1].roles.clone();
    for _ in 0..250 {
        if roles == [2].into() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        roles = sim.tenant().users[&1].roles.clone();
    }
    assert_eq!(roles, [2].into(), "the set ran after the caller left");
}

#[tokio::test]
async fn a_change_another_writer_undoes_is_written_again() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    // Two processes: two connectors, each with its own locks.
    let a = connector(&sim).registry();
    let b = connector(&sim).registry();
    a.validate().await.unwrap();
    b.validate().await.unwrap();
    // B reads first (answered late, so it writes after A); A's write is answered late, so its
    // verification read comes after B's write overwrote it.
    sim.inject(Fault::nth(
        "GET",
        "/api/users/2",
        1,
        FaultKind::Delay(Duration::from_millis(600)),
    ));
    sim.inject(Fault::nth(
        "PUT",
        "/api/users/2",
        1,
        FaultKind::Delay(Duration::from_millis(1200)),
    ));
    let b_grant = tokio::spawn(async move {
        b.grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("group", "12"),
        ))
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let a_outcome = a
        .grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("group", "11"),
        ))
        .await
        .unwrap();
    let b_outcome = b_grant.await.unwrap().unwrap();
    assert_eq!(
        (a_outcome.is_granted(), b_outcome.is_granted()),
        (true, true)
    );
    assert_eq!(sim.tenant().users[&2].user_groups, [10, 11, 12].into());
    assert_eq!(
        puts(&sim),
        3,
        "A wrote twice: once lost to B, once on top of B's"
    );
}

#[tokio::test]
async fn two_connectors_granting_to_one_user_both_land_or_say_so() {
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_latency(Duration::from_millis(5)),
    )
    .await;
    sim.update_tenant(|t| {
        for id in 100..108 {
            t.user_groups
                .insert(id, coupa_sim::Named::new(id, &format!("Team {id}")));
        }
    });
    let writers: Vec<_> = (0..2).map(|_| connector(&sim).registry()).collect();
    let mut tasks = Vec::new();
    for (i, id) in (100..108).enumerate() {
        let registry = writers[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            (
                id,
                registry
                    .grant(connector_sdk::GrantRequest::new(
                        user(2),
                        ent("group", &id.to_string()),
                    ))
                    .await,
            )
        }));
    }
    let groups = {
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        outcomes
    };
    let now = sim.tenant().users[&2].user_groups.clone();
    for (id, outcome) in groups {
        match outcome {
            Ok(GrantOutcome::Granted { .. }) => {}
            Ok(other) => panic!("group {id}: {other:?}"),
            Err(err) => {
                assert!(
                    matches!(write_error(&err), WriteError::Conflict { .. }),
                    "group {id}: {err:?}"
                );
                continue;
            }
        }
        // A write can only undo ours unseen if its read came before our write and it lands
        // after our verification read (docs/provisioning.md); with every answer delayed alike,
        // that read-to-write gap is shorter than our write-to-verify one, so every grant
        // reported done must hold.
        assert!(
            now.contains(&id),
            "group {id} reported granted, tenant has {now:?}"
        );
    }
}

#[tokio::test]
async fn account_group_writes_ask_for_the_accounting_scope() {
    let options = SimOptions::default()
        .without_scope("core.accounting.read")
        .with_ungranted_scope(UngrantedScope::Reject);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let registry = registry(&sim);
    let err = registry
        .grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("account_group", "21"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "permission denied: provisioning unavailable: the token endpoint refused the scopes; \
         grant the OAuth client `core.user_group.write core.user.write core.accounting.read`"
    );
    // Other writes use the client without the accounting scope.
    assert_eq!(
        registry
            .grant(connector_sdk::GrantRequest::new(
                user(2),
                ent("group", "11")
            ))
            .await
            .unwrap(),
        GrantOutcome::granted(vec![connector_sdk::Grant::new(ent("group", "11"), user(2))])
    );
}

#[tokio::test]
async fn a_read_about_another_user_is_an_error_and_nothing_is_written() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    // Every read of user 2 answers with user 1's record (a cache or proxy mixing answers up).
    let ada = serde_json::json!({"id": 1, "user-groups": [{"id": 10}], "roles": [{"id": 1}]});
    answer(
        &sim,
        "GET",
        "/api/users/2",
        wiremock::ResponseTemplate::new(200).set_body_json(ada),
    )
    .await;
    let registry = registry(&sim);
    let before = sim.tenant().users[&2].clone();
    let err = registry
        .grant(connector_sdk::GrantRequest::new(
            user(2),
            ent("group", "12"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        cause(&err),
        "Coupa's answer could not be used: /api/users/2: asked for record 2, Coupa answered \
         with record 1"
    );
    let err = registry
        .revoke(connector_sdk::RevokeRequest::new(Grant::new(
            ent("role", "1"),
            user(2),
        )))
        .await
        .unwrap_err();
    assert!(cause(&err).contains("asked for record 2, Coupa answered with record 1"));
    assert_eq!(puts(&sim), 0, "nothing was written");
    assert_eq!(sim.tenant().users[&2], before);
}

fn kat() -> serde_json::Map<String, serde_json::Value> {
    crate::provision::args(
        serde_json::json!({"login": "kat", "email": "kat@example.com",
        "first_name": "Katherine", "last_name": "Johnson"}),
    )
}

#[tokio::test]
async fn a_search_that_ignores_its_filter_is_not_trusted_and_nothing_is_created() {
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_filters_ignored(true),
    )
    .await;
    let registry = registry(&sim);
    let err = registry
        .create_account(kat(), connector_sdk::CallContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        write_error(&err),
        &WriteError::UntrustedSearch {
            key: "login".into(),
            value: "kat".into(),
            got: 1,
            found: Some("ada".into()),
        }
    );
    assert_eq!(
        cause(&err),
        "Coupa's search for the user with login \"kat\" answered user 1, whose login is \"ada\"; \
         the search cannot be trusted, so nothing was written"
    );
    assert_eq!(sim.count("POST", "/api/users"), 0);
    assert_eq!(sim.tenant().users.len(), 3);
}

#[tokio::test]
async fn a_matching_row_counts_whatever_its_case() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let registry = registry(&sim);
    let mut fields = kat();
    fields.insert("login".into(), "ADA".into());
    // The simulator matches filters exactly, as Coupa does; a server that matches without
    // regard to case answers "ada" for "ADA", which is the same login.
    sim.set_options(|o| o.ignore_filters = true);
    let outcome = registry
        .create_account(fields, connector_sdk::CallContext::default())
        .await
        .unwrap();
    assert!(
        matches!(outcome, CreateAccountOutcome::AlreadyExists(ref r) if r.id == user(1)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_create_answered_with_another_user_is_not_reported_created() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    // The create is answered 201 with the tenant's first user and creates nothing.
    let ada = serde_json::json!({"id": 1, "login": "ada", "email": "ada@example.com"});
    answer(
        &sim,
        "POST",
        "/api/users",
        wiremock::ResponseTemplate::new(201).set_body_json(ada),
    )
    .await;
    let registry = registry(&sim);
    let err = registry
        .create_account(kat(), connector_sdk::CallContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        write_error(&err),
        &WriteError::NotCreated {
            login: "kat".into(),
            reason: "the create answered with user 1 has the login \"ada\"".into(),
        }
    );
}

#[tokio::test]
async fn a_failed_create_is_created_only_when_its_login_reads_back() {
    // The create fails with a 502 after Coupa applied it: found by its login, it is created.
    let sim = CoupaSim::start(Tenant::fixture()).await;
    sim.inject(Fault::nth(
        "POST",
        "/api/users",
        1,
        FaultKind::DropConnection,
    ));
    let outcome = registry(&sim)
        .create_account(kat(), connector_sdk::CallContext::default())
        .await
        .unwrap();
    assert!(
        matches!(outcome, CreateAccountOutcome::Created(ref r) if r.id == user(4)),
        "{outcome:?}"
    );

    // The create fails and nothing was created, while another user has the email: an error,
    // never that user.
    let sim = CoupaSim::start(Tenant::fixture()).await;
    answer(
        &sim,
        "POST",
        "/api/users",
        wiremock::ResponseTemplate::new(502),
    )
    .await;
    let mut fields = kat();
    fields.insert("email".into(), "ada-new@example.com".into());
    let err = registry(&sim)
        .create_account(fields, connector_sdk::CallContext::default())
        .await
        .unwrap_err();
    assert!(cause(&err).contains("HTTP 502"), "{}", cause(&err));
    assert_eq!(sim.tenant().users.len(), 3);
}

#[tokio::test]
async fn a_temporary_grant_is_refused_since_coupa_access_does_not_expire() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let request = connector_sdk::GrantRequest::new(user(3), ent("group", "11"))
        .with_duration(Duration::from_secs(3600));
    let err = registry(&sim).grant(request).await.unwrap_err();
    assert_eq!(
        cause(&err),
        "invalid argument: this connector's grants do not expire: a grant with a duration is \
         refused"
    );
    assert!(sim.requests().is_empty(), "nothing was sent");
}
