use coupa_client::{Error, NewUser};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{client, token_endpoint};

#[tokio::test]
async fn validation_errors_carry_coupa_messages() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("POST"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": {"user": ["Login has already been taken"], "warnings": null}
        })))
        .mount(&server)
        .await;
    let err = client(&server)
        .create_user(&NewUser::new("jdoe", "j@x.com", "J", "Doe"))
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 400);
    assert_eq!(api.messages, ["Login has already been taken"]);
    assert_eq!(
        err.to_string(),
        "Coupa answered HTTP 400 to POST /api/users: Login has already been taken"
    );
}

#[tokio::test]
async fn forbidden_names_the_probably_missing_scope() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/account_groups"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let err = client(&server).account_groups().page().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "forbidden: GET /api/account_groups (probably missing scope `core.accounting.read`)"
    );
}

#[tokio::test]
async fn not_found_and_decode_errors() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users/9"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"[{"id":1,"roles":[]},{"id":2,"login":"x","roles":[{"id":"three"}]}]"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client.get_user(9, None).await.unwrap_err();
    assert_eq!(err.to_string(), "not found: GET /api/users/9");
    let err = client.users().page().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot decode /api/users at `[1].roles[0].id` (record id 2)"
    );
}

#[tokio::test]
async fn truncated_json_is_a_decode_error() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"[{"id":1},{"id":"#, "application/json"),
        )
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                record_id: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_answer_about_another_record_is_an_error() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(path("/api/users/5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 6, "roles": []})))
        .mount(&server)
        .await;
    Mock::given(path("/api/roles/5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client.get_user(5, None).await.unwrap_err();
    assert!(
        matches!(err, Error::WrongRecord { asked: 5, got: 6, ref path } if path == "/api/users/5"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "/api/users/5: asked for record 5, Coupa answered with record 6"
    );
    let update = coupa_client::UserUpdate::new().roles([]);
    let err = client.update_user(5, &update, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongRecord {
                asked: 5,
                got: 6,
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.get_role(5).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongRecord {
                asked: 5,
                got: 7,
                ..
            }
        ),
        "{err:?}"
    );
}
