use coupa_sim::{AccessList, CoupaSim, ListWrite, SimOptions, Tenant, UnknownIds};
use reqwest::Method;
use serde_json::json;

use crate::{READ_WRITE, call, token};

async fn put(sim: &CoupaSim, t: &str, id: i64, body: serde_json::Value) -> crate::Response {
    call(
        sim,
        Method::PUT,
        Some(t),
        &format!("/api/users/{id}"),
        &[],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn put_replaces_group_lists_and_ignores_unknown_ids() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    let reply = put(
        &sim,
        &t,
        1,
        json!({"user-groups": [{"id": 12}, {"id": 999}]}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["user-groups"],
        json!([{"id": 12, "name": "Empty"}])
    );
    assert_eq!(sim.tenant().users[&1].user_groups, [12].into());
    let reply = put(&sim, &t, 1, json!({"content-groups": []})).await;
    assert_eq!(reply.json()["content-groups"], json!([]));
}

#[tokio::test]
async fn roles_are_additive_until_emptied_by_default() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    // A shorter list does not remove roles.
    put(&sim, &t, 1, json!({"roles": [{"id": 1}]})).await;
    assert_eq!(sim.tenant().users[&1].roles, [1, 2].into());
    // Adding works, by id or by name.
    put(&sim, &t, 1, json!({"roles": [{"name": "Buyer"}]})).await;
    assert_eq!(sim.tenant().users[&1].roles, [1, 2, 3].into());
    // The documented two-step removal: clear, then set what stays.
    put(&sim, &t, 1, json!({"roles": []})).await;
    assert!(sim.tenant().users[&1].roles.is_empty());
    let reply = put(&sim, &t, 1, json!({"roles": [{"id": 2}, {"id": 3}]})).await;
    assert_eq!(
        reply.json()["roles"],
        json!([{"id": 2, "name": "User"}, {"id": 3, "name": "Buyer"}])
    );
}

#[tokio::test]
async fn roles_can_be_switched_to_replace() {
    let options = SimOptions::default().with_list_write(AccessList::Roles, ListWrite::Replace);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let t = token(&sim, READ_WRITE).await;
    put(&sim, &t, 1, json!({"roles": [{"id": 1}]})).await;
    assert_eq!(sim.tenant().users[&1].roles, [1].into());
}

#[tokio::test]
async fn unknown_ids_can_be_switched_to_404() {
    let options = SimOptions::default().with_unknown_ids(UnknownIds::NotFound);
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let t = token(&sim, READ_WRITE).await;
    let reply = put(
        &sim,
        &t,
        2,
        json!({"user-groups": [{"id": 10}, {"id": 999}]}),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        sim.tenant().users[&2].user_groups,
        [10].into(),
        "nothing changed"
    );
}

#[tokio::test]
async fn flags_and_validation_on_put() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    let reply = put(
        &sim,
        &t,
        3,
        json!({"active": true, "treasury_user": true, "expense-user": true}),
    )
    .await;
    let body = reply.json();
    assert_eq!(
        (
            body["active"].clone(),
            body["treasury-user"].clone(),
            body["expense-user"].clone()
        ),
        (json!(true), json!(true), json!(true))
    );
    let reply = put(&sim, &t, 3, json!({"login": "ada"})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"errors": {"user": ["Login has already been taken"]}})
    );
    let reply = put(&sim, &t, 3, json!(["not", "an", "object"])).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        put(&sim, &t, 99, json!({"active": false})).await.status,
        404
    );
}

#[tokio::test]
async fn post_creates_users_and_validates() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    let create = |body| call(&sim, Method::POST, Some(&t), "/api/users", &[], Some(body));
    let reply = create(
        json!({"login": "kat", "email": "kat@example.com", "firstname": "Katherine",
        "lastname": "Johnson", "expense-user": true, "user-groups": [{"id": 10}]}),
    )
    .await;
    assert_eq!(reply.status, 201);
    let body = reply.json();
    assert_eq!(body["id"], 4);
    assert_eq!(body["expense-user"], true);
    assert_eq!(sim.tenant().users[&4].user_groups, [10].into());
    let reply = create(
        json!({"login": "kat", "email": "ada@example.com", "firstname": "K", "lastname": "J"}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"errors": {"user": ["Email has already been taken", "Login has already been taken"]}})
    );
    let reply = create(json!({"login": "x", "email": "x@example.com"})).await;
    assert_eq!(
        reply.json(),
        json!({"errors": {"user": ["Firstname can't be blank", "Lastname can't be blank"]}})
    );
    let reply = call(&sim, Method::POST, Some(&t), "/api/users", &[], None).await;
    assert_eq!(reply.status, 400);
    assert_eq!(sim.tenant().users.len(), 4);
}

#[tokio::test]
async fn newer_licenses_are_hidden_from_unprojected_write_answers_too() {
    let options = SimOptions::default().with_newer_licenses_hidden();
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let t = token(&sim, READ_WRITE).await;
    let reply = put(&sim, &t, 1, json!({"intake-user": true})).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert!(body.get("intake-user").is_none(), "{body}");
    assert!(body.get("coupa-navi-ai-agent-user").is_none(), "{body}");
    assert_eq!(body["expense-user"], json!(true), "older flags stay");
    assert!(sim.tenant().users[&1].licenses.contains("intake-user"));
    let projected = call(
        &sim,
        Method::PUT,
        Some(&t),
        "/api/users/1",
        &[("fields", r#"["id","intake-user"]"#)],
        Some(json!({"intake-user": false})),
    )
    .await;
    assert_eq!(projected.json(), json!({"id": 1, "intake-user": false}));
}

#[tokio::test]
async fn omitted_user_keys_are_absent_even_when_projected() {
    let options = SimOptions::default().with_user_key_omitted("account-groups");
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let t = token(&sim, READ_WRITE).await;
    let fields = [("fields", r#"["id",{"account-groups":["id"]}]"#)];
    let read = call(&sim, Method::GET, Some(&t), "/api/users/1", &fields, None).await;
    assert_eq!(read.json(), json!({"id": 1}));
    let list = call(&sim, Method::GET, Some(&t), "/api/users", &fields, None).await;
    assert_eq!(list.json()[0], json!({"id": 1}));
    let reply = put(&sim, &t, 1, json!({"active": false})).await;
    assert!(reply.json().get("account-groups").is_none());
    assert!(reply.json().get("user-groups").is_some());
}

#[tokio::test]
async fn approval_groups_are_written_like_the_other_lists() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    let reply = put(
        &sim,
        &t,
        1,
        json!({"approval-groups": [{"id": 10}, {"id": 11}]}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["approval-groups"],
        json!([{"id": 10, "name": "Finance"}, {"id": 11, "name": "Approvers"}])
    );
    let additive = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default()
            .with_list_write(AccessList::ApprovalGroups, ListWrite::AdditiveUnlessEmpty),
    )
    .await;
    let t = token(&additive, READ_WRITE).await;
    put(&additive, &t, 2, json!({"approval-groups": [{"id": 11}]})).await;
    assert_eq!(additive.tenant().users[&2].approval_groups, [10, 11].into());
    put(&additive, &t, 2, json!({"approval-groups": []})).await;
    assert!(additive.tenant().users[&2].approval_groups.is_empty());
}
