use coupa_sim::{AccessList, CoupaSim, SimOptions, Sizes, Tenant, UngrantedScope};
use serde_json::json;

use crate::{READ_WRITE, call, get, ids, token};

#[tokio::test]
async fn pages_are_capped_at_50_and_follow_offset_and_id_gt() {
    let tenant = Tenant::generate(1, Sizes::users(120));
    let all: Vec<i64> = tenant.users.keys().copied().collect();
    let sim = CoupaSim::start(tenant).await;
    let t = token(&sim, READ_WRITE).await;
    let page = get(&sim, &t, "/api/users", &[("limit", "500")])
        .await
        .json();
    assert_eq!(ids(&page), all[..50]);
    let page = get(&sim, &t, "/api/users", &[("offset", "100")])
        .await
        .json();
    assert_eq!(ids(&page), all[100..]);
    let after = all[49].to_string();
    let page = get(
        &sim,
        &t,
        "/api/users",
        &[("id[gt]", after.as_str()), ("limit", "10")],
    )
    .await
    .json();
    assert_eq!(ids(&page), all[50..60]);
    let page = get(&sim, &t, "/api/users", &[("offset", "500")]).await;
    assert_eq!((page.status, page.text.as_str()), (200, "[]"));
}

#[tokio::test]
async fn fields_projection_returns_only_the_named_keys() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    let fields = r#"["id","login","expense-user",{"roles":["id"]},{"user_groups":["name"]}]"#;
    let page = get(
        &sim,
        &t,
        "/api/users",
        &[("fields", fields), ("limit", "1")],
    )
    .await
    .json();
    assert_eq!(
        page,
        json!([{"id": 1, "login": "ada", "expense-user": true, "roles": [{"id": 1}, {"id": 2}],
                "user-groups": [{"name": "Finance"}, {"name": "Approvers"}]}])
    );
    let full = get(&sim, &t, "/api/users/2", &[]).await.json();
    for key in [
        "login",
        "email",
        "firstname",
        "lastname",
        "fullname",
        "employee-number",
        "active",
        "purchasing-user",
        "treasury-user",
        "roles",
        "user-groups",
        "account-groups",
        "content-groups",
        "created-at",
        "updated-at",
    ] {
        assert!(full.get(key).is_some(), "{key} missing from {full}");
    }
    assert_eq!(
        full["content-groups"],
        json!([{"id": 30, "name": "Everyone"}, {"id": 31, "name": "EMEA"}])
    );
    let bad = get(&sim, &t, "/api/users", &[("fields", "[id")]).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn newer_fields_appear_only_when_projected() {
    let options = SimOptions::default().with_hidden_unless_projected("intake-user");
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let t = token(&sim, READ_WRITE).await;
    let full = get(&sim, &t, "/api/users/1", &[]).await.json();
    assert!(full.get("intake-user").is_none());
    let projected = get(
        &sim,
        &t,
        "/api/users/1",
        &[("fields", r#"["intake-user"]"#)],
    )
    .await
    .json();
    assert_eq!(projected, json!({"intake-user": false}));
}

#[tokio::test]
async fn filters_select_like_coupa() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    type Query<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Query, Vec<i64>); 8] = [
        (&[("status", "active")], vec![1, 2]),
        (&[("active", "false")], vec![3]),
        (&[("login", "grace")], vec![2]),
        (&[("roles[id]", "1")], vec![1]),
        (&[("user-groups[id]", "10")], vec![1, 2]),
        (
            &[
                ("user_groups[id]", "10"),
                ("status", "active"),
                ("type[blank]", "true"),
            ],
            vec![1, 2],
        ),
        (&[("expense_user", "true")], vec![1, 2]),
        (&[("login[in]", "ada,alan")], vec![1, 3]),
    ];
    for (query, expected) in cases {
        let page = get(&sim, &t, "/api/users", query).await.json();
        assert_eq!(ids(&page), expected, "{query:?}");
    }
    let none = get(&sim, &t, "/api/users", &[("login", "nobody")]).await;
    assert_eq!((none.status, none.text.as_str()), (200, "[]"));
    let bad = get(&sim, &t, "/api/users", &[("logn", "x")]).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn group_like_lists_and_records() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    assert_eq!(
        ids(&get(&sim, &t, "/api/user_groups", &[]).await.json()),
        [10, 11, 12]
    );
    assert_eq!(
        ids(&get(&sim, &t, "/api/roles", &[]).await.json()),
        [1, 2, 3]
    );
    assert_eq!(
        ids(&get(&sim, &t, "/api/account_groups", &[]).await.json()),
        [20, 21]
    );
    assert_eq!(
        ids(&get(&sim, &t, "/api/business_groups", &[]).await.json()),
        [30, 31]
    );
    let group = get(&sim, &t, "/api/user_groups/11", &[]).await.json();
    assert_eq!(group["name"], "Approvers");
    assert_eq!(get(&sim, &t, "/api/user_groups/99", &[]).await.status, 404);
}

#[tokio::test]
async fn error_statuses() {
    let options = SimOptions::default()
        .without_scope("core.accounting.read")
        .with_roles_endpoint(false);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let t = token(&sim, READ_WRITE).await;
    // 401: no token, unknown token, expired token.
    let none = call(&sim, reqwest::Method::GET, None, "/api/users", &[], None).await;
    assert_eq!(none.status, 401);
    assert_eq!(get(&sim, "made-up", "/api/users", &[]).await.status, 401);
    // 403: scope not granted (dropped from the token).
    let forbidden = get(&sim, &t, "/api/account_groups", &[]).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        forbidden.json(),
        json!({"errors": {"base": ["The access token lacks the scope core.accounting.read"]}})
    );
    // 404: a missing endpoint, a missing record, a non-numeric id.
    assert_eq!(get(&sim, &t, "/api/roles", &[]).await.status, 404);
    assert_eq!(get(&sim, &t, "/api/users/77", &[]).await.status, 404);
    assert_eq!(
        get(&sim, &t, "/api/users/5%3Ffields=%5B%22id%22%5D", &[])
            .await
            .status,
        404
    );
    assert_eq!(get(&sim, &t, "/api/nothing", &[]).await.status, 404);
    sim.expire_tokens();
    assert_eq!(get(&sim, &t, "/api/users", &[]).await.status, 401);
    // Writes need write scopes.
    let read_only = token(&sim, "core.user.read").await;
    let put = call(
        &sim,
        reqwest::Method::PUT,
        Some(&read_only),
        "/api/users/1",
        &[],
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(put.status, 403);
    let counts = sim.counts();
    assert_eq!(counts["GET /api/users/{id}"], 1);
    assert_eq!(counts["POST /oauth2/token"], 2);
}

#[tokio::test]
async fn the_token_endpoint_checks_credentials_and_scopes() {
    let options = SimOptions::default()
        .without_scope("core.accounting.read")
        .with_ungranted_scope(UngrantedScope::Reject);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let http = crate::http();
    let url = format!("{}/oauth2/token", sim.uri());
    let bad = http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client"),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let basic = http
        .post(&url)
        .basic_auth("sim-client", Some("sim-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "core.user.read openid"),
        ])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = basic.json().await.unwrap();
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(body["scope"], "core.user.read openid");
    let rejected = http
        .post(&url)
        .basic_auth("sim-client", Some("sim-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "core.user.read core.accounting.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 400);
    assert_eq!(
        rejected.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    assert_eq!(sim.tokens_minted(), 1);
}

#[test]
fn ground_truth_accessors() {
    let tenant = Tenant::fixture();
    let groups = tenant.memberships(AccessList::UserGroups, |u| u.active);
    assert_eq!(groups, [(1, 10), (1, 11), (2, 10)].into());
    let licenses = tenant.license_holders(|_| true);
    assert_eq!(licenses.len(), 3);
}

#[tokio::test]
async fn approval_authority_is_served_with_shared_limit_records() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    let fields = r#"["id",{"approval-groups":["id"]},{"requisition-approval-limit":["id","amount",{"currency":["code"]}]},"expense-approval-limit","contract-approval-limit"]"#;
    let page = get(&sim, &t, "/api/users", &[("fields", fields)])
        .await
        .json();
    assert_eq!(
        page,
        json!([
            {"id": 1, "approval-groups": [{"id": 11}], "expense-approval-limit": null,
             "contract-approval-limit": null,
             "requisition-approval-limit": {"id": 40, "amount": "5000.00", "currency": {"code": "USD"}}},
            {"id": 2, "approval-groups": [{"id": 10}, {"id": 11}], "contract-approval-limit": null,
             "requisition-approval-limit": {"id": 40, "amount": "5000.00", "currency": {"code": "USD"}},
             "expense-approval-limit": {"id": 42, "name": "1000.00 EUR", "amount": "1000.00",
                "currency": {"id": 2, "code": "EUR", "decimals": 2}, "subject": "expense_report"}},
            {"id": 3, "approval-groups": [], "requisition-approval-limit": null,
             "expense-approval-limit": null, "contract-approval-limit": null},
        ])
    );
    let group = get(&sim, &t, "/api/user_groups/11", &[]).await.json();
    assert_eq!(group["can-approve"], json!(true));
    let group = get(&sim, &t, "/api/user_groups/10", &[]).await.json();
    assert_eq!(group["can-approve"], json!(false));
}

#[tokio::test]
async fn a_release_without_approval_authority_leaves_it_out_or_refuses_the_fields() {
    let absent = CoupaSim::start_with(
        Tenant::fixture(),
        coupa_sim::SimOptions::default().with_approval_authority_absent(),
    )
    .await;
    let t = token(&absent, READ_WRITE).await;
    let user = get(&absent, &t, "/api/users/1", &[]).await.json();
    assert!(user.get("approval-groups").is_none(), "{user}");
    assert!(user.get("requisition-approval-limit").is_none(), "{user}");
    assert!(user.get("user-groups").is_some());

    let strict = CoupaSim::start_with(
        Tenant::fixture(),
        coupa_sim::SimOptions::default().with_approval_fields_rejected(),
    )
    .await;
    let t = token(&strict, READ_WRITE).await;
    let refused = get(
        &strict,
        &t,
        "/api/users",
        &[("fields", r#"["id",{"approval_groups":["id"]}]"#)],
    )
    .await;
    assert_eq!(refused.status, 400);
    let fine = get(&strict, &t, "/api/users", &[("fields", r#"["id"]"#)]).await;
    assert_eq!(fine.status, 200);
}
