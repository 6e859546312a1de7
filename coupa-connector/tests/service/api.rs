//! Health, auth, syncs, metrics, provisioning and errors over HTTP.

use std::collections::BTreeMap;
use std::time::Duration;

use coupa_sim::{CoupaSim, SimOptions, Sizes, Tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::serve;

#[tokio::test(flavor = "multi_thread")]
async fn v1_needs_the_token_and_health_does_not() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let service = serve(&sim, |c| c).await;
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic dGVzdA=="),
        Some("Bearer "),
    ] {
        let mut request = service.http.get(service.url("/v1/syncs/latest"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["kind"], "unauthorized");
    }
    let livez = service
        .http
        .get(service.url("/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(livez.status(), StatusCode::OK);
    let response = service.call(Method::GET, "/v1/syncs/latest").await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no sync yet, but authenticated"
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_validation() {
    let options = SimOptions::default().without_scope("core.user.read");
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let service = serve(&sim, |c| c).await;
    let ready = || async {
        let response = service
            .http
            .get(service.url("/readyz"))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"].as_str().unwrap().contains("core.user.read"),
        "{body}"
    );
    sim.set_options(|o| {
        o.granted_scopes.insert("core.user.read".into());
    });
    sim.expire_tokens();
    let mut answer = ready().await;
    for _ in 0..50 {
        if answer.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = ready().await;
    }
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["ready"], true);
    service.stop().await;
}

/// Expected counts per type, from the simulator's ground truth.
fn expected(tenant: &Tenant) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut grants = BTreeMap::new();
    for (list, t) in [
        (coupa_sim::AccessList::Roles, "role"),
        (coupa_sim::AccessList::UserGroups, "group"),
        (coupa_sim::AccessList::ContentGroups, "content_group"),
        (coupa_sim::AccessList::AccountGroups, "account_group"),
    ] {
        grants.insert(
            t.to_owned(),
            tenant.memberships(list, |_| true).len() as u64,
        );
    }
    // Approvers are grants of groups too.
    *grants.entry("group".to_owned()).or_default() += tenant
        .memberships(coupa_sim::AccessList::ApprovalGroups, |_| true)
        .len() as u64;
    grants.insert(
        "license".into(),
        tenant.license_holders(|_| true).len() as u64,
    );
    let resources = BTreeMap::from([
        ("user".to_owned(), tenant.users.len() as u64),
        ("group".to_owned(), tenant.user_groups.len() as u64),
        ("role".to_owned(), tenant.roles.len() as u64),
        ("license".to_owned(), 19),
        (
            "account_group".to_owned(),
            tenant.account_groups.len() as u64,
        ),
        (
            "content_group".to_owned(),
            tenant.content_groups.len() as u64,
        ),
    ]);
    (resources, grants)
}

fn counts(value: &Value) -> BTreeMap<String, u64> {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_triggered_sync_matches_the_tenant_and_the_metrics_say_so() {
    let tenant = Tenant::generate(51, Sizes::users(300));
    let sim = CoupaSim::start(tenant.clone()).await;
    let service = serve(&sim, |c| c).await;
    let response = service.call(Method::POST, "/v1/syncs").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let run = response.json::<Value>().await.unwrap()["run"]
        .as_i64()
        .unwrap();
    assert_eq!(run, 1);
    let summary = service.wait_for(run).await;
    assert_eq!(summary["status"], "completed", "{summary}");
    let (resources, grants) = expected(&tenant);
    assert_eq!(counts(&summary["resources"]), resources);
    assert_eq!(counts(&summary["grants"]), grants);
    assert!(summary["finished_at"].as_str().unwrap().ends_with('Z'));
    let latest: Value = service.get_json("/v1/syncs/latest").await;
    assert_eq!(latest, summary);

    // Resources page by page.
    let mut users = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = "/v1/resources?type=user".to_owned();
        if let Some(t) = &token {
            path.push_str(&format!("&page_token={t}"));
        }
        let page: Value = service.get_json(&path).await;
        // Each user's approval limits are on its profile, as the simulator holds them.
        for resource in page["resources"].as_array().unwrap() {
            let id: i64 = resource["id"].as_str().unwrap()["user:".len()..]
                .parse()
                .unwrap();
            let sim_user = &tenant.users[&id];
            for (key, limit) in &sim_user.approval_limits {
                let kind = key.trim_end_matches("-approval-limit").replace('-', "_");
                let record = &tenant.approval_limits[limit];
                assert_eq!(
                    resource["profile"][format!("{kind}_approval_limit_amount")],
                    json!(record.amount),
                    "{resource}"
                );
            }
        }
        users += page["resources"].as_array().unwrap().len() as u64;
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(users, resources["user"]);
    let user = tenant.users.keys().next().unwrap();
    let held: Value = service
        .get_json(&format!("/v1/grants?principal=user:{user}"))
        .await;
    assert!(!held["grants"].as_array().unwrap().is_empty());
    // A page token past the end (a key after every entitlement) is an empty page, not a crash.
    let past: Value = service
        .authed(
            Method::GET,
            &format!("/v1/grants?principal=user:{user}&page_token=1:~:~:~"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(past["grants"], json!([]));
    assert_eq!(past["next_page_token"], Value::Null);

    // The metrics, parsed. The readiness checks keep calling Coupa meanwhile, so the scraped
    // request count lies between the counts read just before and just after the scrape.
    let requests_before = service.connector.http_stats().requests as f64;
    let text = service
        .http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metric = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("{line_start} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        metric("connector_sync_runs_total{outcome=\"completed\"}"),
        1.0
    );
    for (t, n) in &resources {
        assert_eq!(
            metric(&format!("connector_resources{{resource_type=\"{t}\"}}")),
            *n as f64
        );
    }
    for (t, n) in &grants {
        assert_eq!(
            metric(&format!("connector_grants{{resource_type=\"{t}\"}}")),
            *n as f64
        );
    }
    assert_eq!(metric("connector_sync_duration_seconds_count"), 1.0);
    assert!(metric("connector_sync_last_success_timestamp_seconds") > 1.7e9);
    let requests_after = service.connector.http_stats().requests as f64;
    let scraped = metric("coupa_http_requests");
    assert!(
        requests_before <= scraped && scraped <= requests_after && scraped > 0.0,
        "{requests_before} <= {scraped} <= {requests_after}"
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_trigger_while_running_is_409() {
    let options = SimOptions::default().with_latency(Duration::from_millis(40));
    let sim = CoupaSim::start_with(Tenant::generate(52, Sizes::users(600)), options).await;
    let service = serve(&sim, |c| c).await;
    let first = service.call(Method::POST, "/v1/syncs").await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let second = service.call(Method::POST, "/v1/syncs").await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "sync_in_progress");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("run 1 is running"),
        "{body}"
    );
    let summary = service.wait_for(1).await;
    assert_eq!(summary["status"], "completed");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grant_and_revoke_over_http_change_the_tenant() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let service = serve(&sim, |c| c).await;
    let path = "/v1/entitlements/group:11:member/principals/user:3";
    let outcome = |method: Method| async {
        let response = service.authed(method, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["outcome"].clone()
    };
    assert_eq!(outcome(Method::PUT).await, "granted");
    assert!(sim.tenant().users[&3].user_groups.contains(&11));
    assert_eq!(outcome(Method::PUT).await, "already_granted");
    assert_eq!(outcome(Method::DELETE).await, "revoked");
    assert!(!sim.tenant().users[&3].user_groups.contains(&11));
    assert_eq!(outcome(Method::DELETE).await, "already_revoked");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_grants_to_one_user_all_land() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    sim.update_tenant(|t| {
        for id in 100..120 {
            t.user_groups
                .insert(id, coupa_sim::Named::new(id, &format!("Team {id}")));
        }
    });
    let service = serve(&sim, |c| c).await;
    let calls = (100..120).map(|id| {
        service
            .authed(
                Method::PUT,
                &format!("/v1/entitlements/group:{id}:member/principals/user:2"),
            )
            .send()
    });
    for response in futures_join(calls).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap()["outcome"],
            "granted"
        );
    }
    let groups = sim.tenant().users[&2].user_groups.clone();
    assert_eq!(groups.len(), 21, "{groups:?}");
    service.stop().await;
}

async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_json_errors() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let service = serve(&sim, |c| c).await;
    let big = "x".repeat(70 * 1024);
    let cases: Vec<(Method, &str, Option<String>, StatusCode, &str)> = vec![
        (
            Method::PUT,
            "/v1/entitlements/nocolon/principals/user:1",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::PUT,
            "/v1/entitlements/group:10:member/principals/user",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        // A well-formed id the connector refuses (not a Coupa id): the values, not the request.
        (
            Method::PUT,
            "/v1/entitlements/group:10:member/principals/user:abc",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        (
            Method::PUT,
            "/v1/entitlements/team:1:member/principals/user:1",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some("[1]".into()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"login": big}).to_string()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"login": "x"}).to_string()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/v1/actions/delete_user",
            Some("{}".into()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/actions/disable_user",
            Some(json!({"user_id": "+2"}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        (
            Method::POST,
            "/v1/actions/disable_user",
            Some(json!({"user": "2"}).to_string()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/v1/syncs/abc",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/v1/syncs/77",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/grants?entitlement=group:10:member&principal=user:1",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (method, path, body, status, kind) in cases {
        let mut request = service.authed(method.clone(), path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["kind"], kind, "{method} {path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_and_actions_over_http() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let service = serve(&sim, |c| c).await;
    let account = json!({"login": "kat", "email": "kat@example.com", "first_name": "Katherine",
        "last_name": "Johnson"});
    let created = service
        .authed(Method::POST, "/v1/accounts")
        .json(&account)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["account"]["id"], "user:4", "{body}");
    let again = service
        .authed(Method::POST, "/v1/accounts")
        .json(&account)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "already_exists");
    assert_eq!(body["account"]["id"], "user:4");
    // Coupa's own validation: a duplicate email under another login.
    let duplicate =
        json!({"login": "kat2", "email": "ada@example.com", "first_name": "K", "last_name": "J"});
    let response = service
        .authed(Method::POST, "/v1/accounts")
        .json(&duplicate)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "conflict", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("belongs to Coupa user 1 (login \"ada\"), not to the login \"kat2\""),
        "{body}"
    );
    assert!(body.get("account").is_none(), "{body}");
    let action = service
        .authed(Method::POST, "/v1/actions/disable_user")
        .json(&json!({"user_id": "2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(action.status(), StatusCode::OK);
    let body: Value = action.json().await.unwrap();
    assert_eq!(
        body["result"],
        json!({"user_id": "2", "status": "disabled", "changed": true})
    );
    assert!(!sim.tenant().users[&2].active);
    service.stop().await;
}
