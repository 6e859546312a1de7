use std::sync::Arc;
use std::time::Duration;

use connector_sdk::backend::WorkQueue;
use connector_sdk::{Error, MemoryStore, ResourceId, ResourceStatus, SqliteStore, Store};
use coupa_connector::ConnectorConfig;
use coupa_sim::{CoupaSim, Fault, FaultKind, RateLimit, SimOptions, Sizes, Tenant, UngrantedScope};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::{
    client_config, connector, engine, expected_grants, expected_resources, grants, resources, sync,
};

#[tokio::test]
async fn a_full_sync_equals_the_ground_truth() {
    let tenant = Tenant::generate(11, Sizes::users(640));
    let sim = CoupaSim::start(tenant.clone()).await;
    let connector = connector(&sim);
    let (store, report) = sync(&connector, 4).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    assert_eq!(
        resources(&store, report.run),
        expected_resources(&tenant, true)
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // Users carry the user trait, status and profile.
    let (id, sim_user) = tenant.users.iter().find(|(_, u)| !u.active).unwrap();
    let user = store
        .resource(report.run, &ResourceId::new("user", id.to_string()))
        .unwrap()
        .unwrap();
    assert_eq!(user.status, Some(ResourceStatus::Disabled));
    let trait_ = user.user.unwrap();
    assert_eq!(trait_.login.as_deref(), Some(sim_user.login.as_str()));
    assert_eq!(trait_.emails[0].address, sim_user.email);
    assert_eq!(trait_.employee_id, sim_user.employee_number);
    assert_eq!(user.profile["first_name"], "Sim");
    assert_eq!(user.display_name, format!("Sim {}", sim_user.lastname));
    // Every user's approval limits, exactly: amount and currency of each record it points at.
    let mut with_limits = 0;
    for (id, sim_user) in &tenant.users {
        let synced = store
            .resource(report.run, &ResourceId::new("user", id.to_string()))
            .unwrap()
            .unwrap();
        let profile: std::collections::BTreeMap<String, serde_json::Value> = synced
            .profile
            .into_iter()
            .filter(|(k, _)| k.contains("approval_limit"))
            .collect();
        let mut expected = std::collections::BTreeMap::new();
        for (key, limit) in &sim_user.approval_limits {
            let record = &tenant.approval_limits[limit];
            let kind = key.trim_end_matches("-approval-limit").replace('-', "_");
            expected.insert(
                format!("{kind}_approval_limit_amount"),
                serde_json::json!(record.amount),
            );
            expected.insert(
                format!("{kind}_approval_limit_currency"),
                serde_json::json!(record.currency),
            );
        }
        with_limits += usize::from(!expected.is_empty());
        assert_eq!(profile, expected, "user {id}");
    }
    assert!(with_limits > 300, "{with_limits} of 640 users have limits");
}

#[tokio::test]
async fn the_fixture_syncs_to_exact_rows() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let (store, report) = sync(&connector(&sim), 2).await;
    let grants: Vec<String> = grants(&store, report.run).into_iter().collect();
    assert_eq!(
        grants,
        [
            "account_group:20:member:user:1",
            "account_group:21:member:user:3",
            "content_group:30:member:user:1",
            "content_group:30:member:user:2",
            "content_group:31:member:user:2",
            "group:10:approver:user:2",
            "group:10:member:user:1",
            "group:10:member:user:2",
            "group:11:approver:user:1",
            "group:11:approver:user:2",
            "group:11:member:user:1",
            "license:expense-user:assigned:user:1",
            "license:expense-user:assigned:user:2",
            "license:purchasing-user:assigned:user:1",
            "role:1:member:user:1",
            "role:2:member:user:1",
            "role:2:member:user:2",
            "role:2:member:user:3",
        ]
    );
    let group = store
        .resource(report.run, &ResourceId::new("group", "11"))
        .unwrap()
        .unwrap();
    assert_eq!(group.display_name, "Approvers");
    assert_eq!(group.profile["can_approve"], true);
    let finance = store
        .resource(report.run, &ResourceId::new("group", "10"))
        .unwrap()
        .unwrap();
    assert_eq!(finance.profile["can_approve"], false);
    // Every group has approvers, named after it.
    let approver = store
        .entitlements(report.run, &ResourceId::new("group", "12"))
        .unwrap()
        .into_iter()
        .find(|e| e.id.slug == "approver")
        .unwrap();
    assert_eq!(approver.display_name, "Approver of Empty");
    // Approval limits on the user's profile: amount and currency of each limit present, nothing
    // for a null one.
    let limits = |id: &str| {
        let user = store
            .resource(report.run, &ResourceId::new("user", id))
            .unwrap()
            .unwrap();
        user.profile
            .into_iter()
            .filter(|(k, _)| k.contains("approval_limit"))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(
        serde_json::to_value(limits("1")).unwrap(),
        serde_json::json!({
            "requisition_approval_limit_amount": "5000.00",
            "requisition_approval_limit_currency": "USD",
            "requisition_self_approval_limit_amount": "500.00",
            "requisition_self_approval_limit_currency": "USD",
        })
    );
    assert_eq!(
        serde_json::to_value(limits("2")).unwrap(),
        serde_json::json!({
            "expense_approval_limit_amount": "1000.00",
            "expense_approval_limit_currency": "EUR",
            "requisition_approval_limit_amount": "5000.00",
            "requisition_approval_limit_currency": "USD",
        })
    );
    assert!(limits("3").is_empty());
    let license = store
        .resource(report.run, &ResourceId::new("license", "aic-user"))
        .unwrap()
        .unwrap();
    assert_eq!(license.display_name, "AI Classification");
    let counts = &report.counts;
    assert_eq!(counts.resources[&"license".into()], 19);
    assert_eq!(counts.entitlements[&"license".into()], 19);
    // Each of the 3 groups: members and approvers.
    assert_eq!(counts.entitlements[&"group".into()], 6);
}

#[tokio::test]
async fn the_request_count_is_the_minimum() {
    let tenant = Tenant::generate(3, Sizes::users(120));
    let sim = CoupaSim::start(tenant.clone()).await;
    let connector = connector(&sim);
    sync(&connector, 1).await;
    let counts = sim.counts();
    // One token, ceil(120/50) = 3 user pages, one page per group-like list.
    assert_eq!(counts["POST /oauth2/token"], 1);
    assert_eq!(counts["GET /api/users"], 3);
    assert_eq!(counts["GET /api/user_groups"], 1);
    assert_eq!(counts["GET /api/roles"], 1);
    assert_eq!(counts["GET /api/account_groups"], 1);
    assert_eq!(counts["GET /api/business_groups"], 1);
    assert_eq!(sim.requests().len(), 8);
    assert_eq!(connector.http_stats().requests, 8);
    // Every user page projected the access lists and licenses.
    let users: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/users")
        .collect();
    let offsets: Vec<&str> = users.iter().map(|r| r.param("offset").unwrap()).collect();
    assert_eq!(offsets, ["0", "50", "100"]);
    let fields = users[0].param("fields").unwrap();
    for key in [
        "\"login\"",
        "\"expense-user\"",
        "{\"roles\":[\"id\",\"name\"]}",
        "{\"user-groups\":[\"id\"]}",
        "{\"account-groups\":[\"id\"]}",
        "{\"content-groups\":[\"id\"]}",
    ] {
        assert!(fields.contains(key), "{key} not in {fields}");
    }

    // With 4 workers, pages run in 4 lanes: at most one speculative page per lane.
    let sim = CoupaSim::start(tenant).await;
    sync(&crate::connector(&sim), 4).await;
    let users = sim.counts()["GET /api/users"];
    assert!((3..=3 + 4).contains(&users), "{users} user pages");
    assert!(sim.requests().len() <= 8 + 4, "{:?}", sim.counts());
}

#[tokio::test]
async fn a_missing_accounting_scope_skips_account_groups_with_a_warning() {
    let tenant = Tenant::generate(5, Sizes::users(60));
    for mode in [UngrantedScope::Drop, UngrantedScope::Reject] {
        let options = SimOptions::default()
            .without_scope("core.accounting.read")
            .with_ungranted_scope(mode);
        let sim = CoupaSim::start_with(tenant.clone(), options).await;
        let connector = connector(&sim);
        let (store, report) = sync(&connector, 2).await;
        assert_eq!(
            grants(&store, report.run),
            expected_grants(&tenant, false),
            "{mode:?}"
        );
        assert_eq!(
            resources(&store, report.run),
            expected_resources(&tenant, false)
        );
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(
            report.warnings[0].starts_with("account groups skipped: "),
            "{}",
            report.warnings[0]
        );
        assert!(
            report.warnings[0].contains("`core.accounting.read`"),
            "{}",
            report.warnings[0]
        );
        assert_eq!(sim.count("GET", "/api/account_groups"), 0, "{mode:?}");
        let warnings = connector_sdk::Connector::validate(&connector)
            .await
            .unwrap();
        assert_eq!(warnings, report.warnings);
    }
}

#[tokio::test]
async fn a_tenant_without_approval_authority_syncs_without_it_and_says_so_once() {
    let tenant = Tenant::generate(6, Sizes::users(200));
    let without: std::collections::BTreeSet<String> = expected_grants(&tenant, true)
        .into_iter()
        .filter(|g| !g.contains(":approver:"))
        .collect();
    for (options, warning) in [
        (
            SimOptions::default().with_approval_authority_absent(),
            "Coupa's user records carry neither approval-groups nor approval limits (an older \
             release, or a profile that hides them): users are synced without approver grants \
             (group:<id>:approver) and without approval limits",
        ),
        (
            SimOptions::default().with_approval_fields_rejected(),
            "Coupa refused a users listing that names approval-groups and the approval limits \
             (HTTP 400), as a release without them does: users are synced without approver \
             grants (group:<id>:approver) and without approval limits",
        ),
    ] {
        let sim = CoupaSim::start_with(tenant.clone(), options).await;
        let (store, report) = sync(&connector(&sim), 4).await;
        assert_eq!(grants(&store, report.run), without, "{warning}");
        assert_eq!(report.warnings, [warning]);
        let limits = store
            .all_resources(report.run)
            .unwrap()
            .into_iter()
            .flat_map(|r| r.profile.into_iter().map(|(k, _)| k))
            .filter(|k| k.contains("approval_limit"))
            .count();
        assert_eq!(limits, 0);
    }
}

#[tokio::test]
async fn a_403_on_account_groups_skips_them_too() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let tenant = Tenant::generate(6, Sizes::users(60));
    let sim = CoupaSim::start(tenant.clone()).await;
    Mock::given(method("GET"))
        .and(path("/api/account_groups"))
        .respond_with(ResponseTemplate::new(403))
        .mount(sim.server())
        .await;
    let (store, report) = sync(&connector(&sim), 3).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, false));
    assert_eq!(
        report.warnings,
        [
            "account groups skipped: Coupa answered 403 to GET /api/account_groups; grant the OAuth client the scope `core.accounting.read` to sync them"
        ]
    );
}

#[tokio::test]
async fn account_groups_can_be_turned_off() {
    let tenant = Tenant::fixture();
    let sim = CoupaSim::start(tenant.clone()).await;
    let connector = coupa_connector::CoupaConnector::new(
        ConnectorConfig::new(client_config(&sim)).with_account_groups(false),
    )
    .unwrap();
    let (store, report) = sync(&connector, 2).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, false));
    assert!(report.warnings.is_empty());
    assert!(
        !report
            .counts
            .resources
            .contains_key(&"account_group".into())
    );
    let token = sim
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth2/token")
        .unwrap();
    assert_eq!(token.status, 200);
    assert_eq!(sim.count("GET", "/api/account_groups"), 0);
}

#[tokio::test]
async fn roles_come_from_users_when_the_roles_endpoint_is_missing() {
    let tenant = Tenant::generate(8, Sizes::users(300));
    let sim = CoupaSim::start_with(
        tenant.clone(),
        SimOptions::default().with_roles_endpoint(false),
    )
    .await;
    let connector = connector(&sim);
    let (store, report) = sync(&connector, 4).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    let held: std::collections::BTreeSet<i64> = tenant
        .memberships(coupa_sim::AccessList::Roles, |_| true)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let roles: Vec<String> = store
        .resources(report.run, &"role".into())
        .unwrap()
        .iter()
        .map(|r| r.id.id.clone())
        .collect();
    let mut expected: Vec<String> = held.iter().map(|r| r.to_string()).collect();
    expected.sort();
    assert_eq!(roles, expected, "every role some user holds");
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("GET /api/roles is not served"),
        "{:?}",
        report.warnings
    );
    // A second sync with the same connector emits the roles again.
    let (store, report) = sync(&connector, 2).await;
    assert_eq!(
        store.resources(report.run, &"role".into()).unwrap().len(),
        expected.len()
    );
}

#[tokio::test]
async fn an_hour_long_token_serves_a_whole_sync() {
    let tenant = Tenant::generate(9, Sizes::users(3000));
    let options = SimOptions::default().with_token_lifetime(Duration::from_secs(3600));
    let sim = CoupaSim::start_with(tenant.clone(), options).await;
    let (store, report) = sync(&connector(&sim), 4).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    assert_eq!(sim.tokens_minted(), 1);
}

#[tokio::test]
async fn token_expiry_in_the_middle_of_a_sync() {
    let tenant = Tenant::generate(9, Sizes::users(400));
    let sim = CoupaSim::start(tenant.clone()).await;
    let watcher = sim.clone();
    tokio::spawn(async move {
        while watcher.count("GET", "/api/users") < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        watcher.expire_tokens();
    });
    sim.set_options(|o| o.latency = Duration::from_millis(5));
    let (store, report) = sync(&connector(&sim), 2).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    assert!(sim.tokens_minted() >= 2, "the token was refreshed");
    assert!(
        sim.requests().iter().any(|r| r.status == 401),
        "a call saw the expired token"
    );
}

#[tokio::test]
async fn a_429_storm_under_the_leaky_bucket() {
    let tenant = Tenant::generate(10, Sizes::users(1500));
    let limit = RateLimit::new(25.0, 20);
    let sim = CoupaSim::start_with(
        tenant.clone(),
        SimOptions::default().with_rate_limit(Some(limit)),
    )
    .await;
    // No client-side limit, and 32 workers: the 30 user pages' lanes start together and overrun
    // the bucket of 20 however fast or slow the machine answers; they must ride out the 429s.
    let (store, report) = sync(&connector(&sim), 32).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    let limited = sim.requests().iter().filter(|r| r.status == 429).count();
    assert!(limited > 0, "the storm happened");
}

#[tokio::test]
async fn a_sync_and_provisioning_at_once_stay_under_one_budget() {
    let tenant = Tenant::generate(16, Sizes::users(1500));
    let limit = RateLimit::new(25.0, 20);
    let sim = CoupaSim::start_with(
        tenant.clone(),
        SimOptions::default().with_rate_limit(Some(limit)),
    )
    .await;
    // Coupa's limit less a margin: every client of the connector shares these 20/s.
    let config = ConnectorConfig::new(client_config(&sim).with_rate_limit(Some(20)));
    let connector = coupa_connector::CoupaConnector::new(config).unwrap();
    let registry = connector.registry();
    let users: Vec<i64> = tenant.users.keys().copied().take(15).collect();
    let group = tenant
        .user_groups
        .keys()
        .next()
        .copied()
        .unwrap()
        .to_string();
    let writes = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for user in users {
            let principal = ResourceId::new("user", user.to_string());
            let group =
                connector_sdk::EntitlementId::new(ResourceId::new("group", &group), "member");
            outcomes.push(
                registry
                    .grant(connector_sdk::GrantRequest::new(
                        principal.clone(),
                        group.clone(),
                    ))
                    .await
                    .map(|_| ()),
            );
            let grant = connector_sdk::Grant::new(group, principal);
            outcomes.push(
                registry
                    .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                    .await
                    .map(|_| ()),
            );
        }
        outcomes
    });
    let (store, report) = sync(&connector, 8).await;
    for outcome in writes.await.unwrap() {
        outcome.unwrap();
    }
    assert_eq!(report.counts.resources[&"user".into()], 1500);
    assert!(grants(&store, report.run).len() > 1500);
    let requests = sim.requests();
    let limited = requests.iter().filter(|r| r.status == 429).count();
    assert!(requests.len() > 100, "{} requests", requests.len());
    assert_eq!(limited, 0, "the server never saw more than its limit");
    assert_eq!(connector.http_stats().requests, requests.len() as u64);
}

#[tokio::test]
async fn a_server_that_ignores_offset_is_an_error_not_an_endless_loop() {
    let sim = CoupaSim::start(Tenant::generate(17, Sizes::users(300))).await;
    // Every users page answers the same 50 users, whatever the offset.
    let page: Vec<serde_json::Value> = (1..=50)
        .map(|id| {
            serde_json::json!({"id": id, "login": format!("u{id}"), "active": true, "roles": [],
                "user-groups": [], "content-groups": [], "account-groups": []})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(sim.server())
        .await;
    let store = Arc::new(MemoryStore::new());
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        engine(&connector(&sim), store, 4).run(&CancellationToken::new()),
    )
    .await
    .expect("the sync ends")
    .unwrap_err();
    let Error::Connector { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        source
            .to_string()
            .contains("is not above id 50 already listed at offset 0"),
        "{source}"
    );
}

#[tokio::test]
async fn a_500_on_one_page_is_retried() {
    let tenant = Tenant::generate(12, Sizes::users(200));
    let sim = CoupaSim::start(tenant.clone()).await;
    sim.inject(Fault::nth("GET", "/api/users", 2, FaultKind::Status(500)));
    sim.inject(Fault::nth(
        "GET",
        "/api/user_groups",
        1,
        FaultKind::DropConnection,
    ));
    let connector = connector(&sim);
    let (store, report) = sync(&connector, 2).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    assert_eq!(connector.http_stats().retries, 2);
}

#[tokio::test]
async fn a_malformed_user_record_names_the_user_and_the_field() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    let sim = CoupaSim::start(Tenant::fixture()).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"[{"id":1,"login":"ada","roles":[]},{"id":7,"login":"bad","roles":[{"id":"three"}]}]"#,
            "application/json",
        ))
        .mount(sim.server())
        .await;
    let err = engine(&connector(&sim), Arc::new(MemoryStore::new()), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert!(
        chain.starts_with("sync failed in the resources stage, resource type `user`"),
        "{chain}"
    );
    assert!(
        chain.contains("cannot decode /api/users at `[1].roles[0].id` (record id 7)"),
        "{chain}"
    );
}

#[tokio::test]
async fn a_first_page_without_approval_authority_decides_for_the_run() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    let tenant = Tenant::generate(8, Sizes::users(120));
    let sim = CoupaSim::start(tenant.clone()).await;
    // The first page, as a release without approval authority would send it.
    let first: Vec<serde_json::Value> = tenant
        .users
        .values()
        .take(50)
        .map(|u| {
            serde_json::json!({"id": u.id, "login": u.login, "active": u.active, "roles": [],
                "user-groups": [], "content-groups": [], "account-groups": []})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .with_priority(1)
        .mount(sim.server())
        .await;
    let store = Arc::new(MemoryStore::new());
    let report = engine(&connector(&sim), store.clone(), 1)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].starts_with("Coupa's user records carry neither"));
    assert!(
        !grants(&store, report.run)
            .iter()
            .any(|g| g.contains(":approver:"))
    );
    // The later pages are asked without the keys (a page asked with them that carried them,
    // against the first, would fail the sync rather than be dropped).
    let asked: Vec<(String, bool)> = sim
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/users")
        .filter_map(|r| {
            Some((
                r.param("offset")?.to_owned(),
                r.param("fields")?.contains("approval-groups"),
            ))
        })
        .collect();
    assert!(asked.contains(&("50".to_owned(), false)), "{asked:?}");
    assert!(
        asked
            .iter()
            .all(|(offset, named)| *named == (offset == "0")),
        "{asked:?}"
    );
}

#[tokio::test]
async fn resume_after_an_interruption_gives_the_same_rows() {
    // With the roles endpoint too, and without it (roles built from user rows, which the run
    // remembers as it goes: a resume in the same process must not inherit that memory).
    for serve_roles in [true, false] {
        let tenant = Tenant::generate(13, Sizes::users(500));
        let options = SimOptions::default().with_roles_endpoint(serve_roles);
        let baseline_sim = CoupaSim::start_with(tenant.clone(), options.clone()).await;
        let (baseline_store, baseline) = sync(&connector(&baseline_sim), 3).await;

        let sim = CoupaSim::start_with(tenant.clone(), options).await;
        // The users page at offset 200 fails every attempt the client makes (4 in these
        // tests): the sync stops, resumable.
        Mock::given(method("GET"))
            .and(path("/api/users"))
            .and(query_param("offset", "200"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(4)
            .mount(sim.server())
            .await;
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let connector = connector(&sim);
        let err = engine(&connector, store.clone(), 3)
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        crate::assert_unavailable(&err);
        let before = sim.count("GET", "/api/users");
        let report = engine(&connector, store.clone(), 3)
            .run(&CancellationToken::new())
            .await
            .unwrap();
        assert!(report.resumed, "serve_roles={serve_roles}");
        let after = sim.count("GET", "/api/users") - before;
        assert!(
            after < before + 7,
            "resume did not start over: {after} more pages"
        );
        let mut grants_resumed = std::collections::BTreeSet::new();
        for user in store.resources(report.run, &"user".into()).unwrap() {
            for g in store.grants_for_principal(report.run, &user.id).unwrap() {
                grants_resumed.insert(g.id().to_string());
            }
        }
        assert_eq!(grants_resumed, grants(&baseline_store, baseline.run));
        assert_eq!(report.counts, baseline.counts, "serve_roles={serve_roles}");
        let roles: Vec<_> = store
            .resources(report.run, &"role".into())
            .unwrap()
            .into_iter()
            .map(|r| r.id.to_string())
            .collect();
        let expected: Vec<_> = baseline_store
            .all_resources(baseline.run)
            .unwrap()
            .into_iter()
            .filter(|r| r.id.resource_type.as_str() == "role")
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(roles, expected, "serve_roles={serve_roles}");
    }
}

#[tokio::test]
async fn an_interrupted_run_is_never_finished_against_another_tenant() {
    let a = Tenant::generate(21, Sizes::users(600));
    let b = Tenant::generate(22, Sizes::users(250));
    let sim_a = CoupaSim::start(a).await;
    let sim_b = CoupaSim::start(b.clone()).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(query_param("offset", "300"))
        .respond_with(ResponseTemplate::new(500))
        .mount(sim_a.server())
        .await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    engine(&connector(&sim_a), store.clone(), 3)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    let report = engine(&connector(&sim_b), store.clone(), 3)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(!report.resumed);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("run 1 was not resumed: it synced something else")),
        "{:?}",
        report.warnings
    );
    let mut synced = std::collections::BTreeSet::new();
    for user in store.resources(report.run, &"user".into()).unwrap() {
        for g in store.grants_for_principal(report.run, &user.id).unwrap() {
            synced.insert(g.id().to_string());
        }
    }
    assert_eq!(synced, expected_grants(&b, true), "tenant B only");
    assert_eq!(report.counts.resources[&"user".into()], 250);
}

#[tokio::test]
async fn a_persistently_failing_page_costs_the_client_retries_only() {
    let sim = CoupaSim::start(Tenant::generate(15, Sizes::users(300))).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(query_param("offset", "100"))
        .respond_with(ResponseTemplate::new(503))
        .mount(sim.server())
        .await;
    let store = Arc::new(MemoryStore::new());
    let err = engine(&connector(&sim), store, 1)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    crate::assert_unavailable(&err);
    let failing: Vec<_> = sim
        .server()
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.url.path() == "/api/users"
                && r.url
                    .query_pairs()
                    .any(|(k, v)| k == "offset" && v == "100")
        })
        .collect();
    // The client's 4 attempts (the test configuration), and no engine retry on top.
    assert_eq!(failing.len(), 4);
}

#[tokio::test]
async fn the_test_kit_passes_the_coupa_connector() {
    let sim = CoupaSim::start(Tenant::generate(14, Sizes::users(150))).await;
    connector_sdk::testing::check_sync(&connector(&sim).registry())
        .await
        .unwrap();
}

#[tokio::test]
async fn validate_proves_credentials_and_names_missing_scopes() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let connector = connector(&sim);
    assert_eq!(
        connector_sdk::Connector::validate(&connector)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let users = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/users")
        .collect::<Vec<_>>();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].param("limit"), Some("1"));
    assert_eq!(users[0].param("fields"), Some(r#"["id"]"#));

    let bad = coupa_client::Config::with_base_url(
        &sim.uri(),
        "sim-client",
        secrecy::SecretString::from("wrong"),
    )
    .unwrap();
    let connector = coupa_connector::CoupaConnector::new(ConnectorConfig::new(bad)).unwrap();
    let err = connector_sdk::Connector::validate(&connector)
        .await
        .unwrap_err();
    assert_eq!(
        connector_sdk::error_chain(&err),
        "unauthenticated: Coupa refused the OAuth client: authentication failed (HTTP 400, \
         invalid_client): Client authentication failed"
    );
    let client = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<coupa_client::Error>())
        .unwrap();
    assert!(matches!(
        client,
        coupa_client::Error::Auth {
            code: Some(coupa_client::OAuthError::InvalidClient),
            ..
        }
    ));

    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().without_scope("core.user.read"),
    )
    .await;
    let err = connector_sdk::Connector::validate(&crate::connector(&sim))
        .await
        .unwrap_err();
    assert_eq!(
        connector_sdk::error_chain(&err),
        "permission denied: Coupa refused the call: forbidden: GET /api/users (probably missing \
         scope `core.user.read`)"
    );
}

#[test]
fn the_committed_manifest_matches_the_registration() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities.json");
    let manifest = coupa_connector::manifest().to_json();
    if std::env::var_os("UPDATE_MANIFEST").is_some() {
        std::fs::write(&path, &manifest).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed, manifest,
        "run with UPDATE_MANIFEST=1 to regenerate capabilities.json"
    );
}

#[test]
fn debug_output_of_the_connector_never_shows_the_secret() {
    let config = coupa_client::Config::new(
        "acme",
        "client-id",
        secrecy::SecretString::from("t0p-s3cret-v4lue"),
    )
    .unwrap();
    let config = ConnectorConfig::new(config);
    let connector = coupa_connector::CoupaConnector::new(config.clone()).unwrap();
    let registry = connector.registry();
    for text in [
        format!("{config:?}"),
        format!("{connector:?}"),
        format!("{registry:?}"),
    ] {
        assert!(!text.contains("t0p-s3cret-v4lue"), "{text}");
    }
    assert!(format!("{connector:?}").contains("client-id"));
}

#[tokio::test]
async fn a_user_without_active_has_no_status_rather_than_a_guess() {
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_user_key_omitted("active"),
    )
    .await;
    let (store, report) = sync(&connector(&sim), 2).await;
    let users = store.resources(report.run, &"user".into()).unwrap();
    assert_eq!(users.len(), 3);
    assert!(users.iter().all(|u| u.status.is_none()), "{users:?}");
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let (store, report) = sync(&connector(&sim), 2).await;
    let statuses: Vec<_> = store
        .resources(report.run, &"user".into())
        .unwrap()
        .into_iter()
        .map(|u| u.status)
        .collect();
    assert_eq!(
        statuses,
        [
            Some(ResourceStatus::Enabled),
            Some(ResourceStatus::Enabled),
            Some(ResourceStatus::Disabled)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_shared_with_another_integration_costs_few_429s() {
    // Another integration spends 15 of the tenant's 25 requests a second: the bucket drains 10.
    let tenant = Tenant::generate(12, Sizes::users(2500));
    let options = SimOptions::default()
        .with_latency(Duration::from_millis(50))
        .with_rate_limit(Some(RateLimit::new(10.0, 20)));
    let sim = CoupaSim::start_with(tenant.clone(), options).await;
    // The default ceiling (Coupa's 25 a second), which this bucket does not grant.
    let config = crate::client_config(&sim).with_rate_limit(Some(25));
    let connector = coupa_connector::CoupaConnector::new(ConnectorConfig::new(config)).unwrap();
    let (store, report) = sync(&connector, 8).await;
    assert_eq!(grants(&store, report.run), expected_grants(&tenant, true));
    let requests = sim.requests();
    let limited = requests.iter().filter(|r| r.status == 429).count();
    // Learning the rate costs a few 429s, whatever the tenant's size; a limiter fixed at the
    // ceiling overflows the bucket for the whole sync (here 20 of 85 requests answered 429).
    assert!(
        limited <= 12,
        "{limited} of {} answered 429",
        requests.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_process_starts_at_the_learned_rate_and_costs_fewer_429s() {
    // As above: another integration spends 15 of the tenant's 25 requests a second.
    let tenant = Tenant::generate(12, Sizes::users(2500));
    let options = SimOptions::default()
        .with_latency(Duration::from_millis(50))
        .with_rate_limit(Some(RateLimit::new(10.0, 20)));
    let sim = CoupaSim::start_with(tenant.clone(), options).await;
    let store: Arc<dyn WorkQueue> = Arc::new(connector_sdk::SqliteStore::in_memory().unwrap());
    let mut limited = Vec::new();
    for _process in 0..2 {
        sim.clear_log();
        // A new connector each time, as a new process: its own budget, at the ceiling.
        let config = crate::client_config(&sim).with_rate_limit(Some(25));
        let connector = coupa_connector::CoupaConnector::new(ConnectorConfig::new(config)).unwrap();
        engine(&connector, store.clone(), 8)
            .run(&CancellationToken::new())
            .await
            .unwrap();
        limited.push(sim.requests().iter().filter(|r| r.status == 429).count());
    }
    let learned = store
        .learned(
            "coupa",
            &crate::connector(&sim).registry().fingerprint().encode(),
        )
        .unwrap()
        .unwrap();
    let learned: serde_json::Value = serde_json::from_str(&learned.0).unwrap();
    assert!(learned["rate"].as_f64().unwrap() < 25.0, "{learned}");
    assert!(
        limited[1] < limited[0] && limited[1] <= 2,
        "429s: {limited:?}"
    );
}
