use std::sync::atomic::Ordering;
use std::time::Duration;

use coupa_client::{CoupaClient, CredentialStyle, Error, OAuthError};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRET, client, config, seen, token_endpoint};

async fn users_ok(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_token_is_cached_and_sent_in_the_body_by_default() {
    let server = MockServer::start().await;
    let minted = token_endpoint(&server, 86399).await;
    users_ok(&server).await;
    let client = client(&server);
    for _ in 0..3 {
        client.users().page().await.unwrap();
    }
    assert_eq!(minted.load(Ordering::SeqCst), 1);
    let token_request = &seen(&server, "/oauth2/token").await[0];
    let body = String::from_utf8(token_request.body.clone()).unwrap();
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(body.contains("client_id=client-id"), "{body}");
    assert!(
        body.contains("scope=core.business_entity.read+core.common.read"),
        "{body}"
    );
    assert_eq!(
        token_request.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        client.granted_scopes().await.unwrap().unwrap(),
        ["core.user.read", "openid"]
    );
}

#[tokio::test]
async fn basic_credentials_keep_the_secret_out_of_the_body() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    users_ok(&server).await;
    let client =
        CoupaClient::new(config(&server).with_credential_style(CredentialStyle::Basic)).unwrap();
    client.users().page().await.unwrap();
    let token_request = &seen(&server, "/oauth2/token").await[0];
    let body = String::from_utf8(token_request.body.clone()).unwrap();
    assert!(!body.contains("client_secret"), "{body}");
    let auth = token_request
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    let server = MockServer::start().await;
    // A two-second token is due for refresh one second after minting.
    let minted = token_endpoint(&server, 2).await;
    users_ok(&server).await;
    let client = CoupaClient::new(config(&server)).unwrap();
    client.users().page().await.unwrap();
    client.users().page().await.unwrap();
    assert_eq!(minted.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.users().page().await.unwrap();
    assert_eq!(minted.load(Ordering::SeqCst), 2);
    let auths: Vec<String> = seen(&server, "/api/users")
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(auths, ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test]
async fn an_hour_long_token_is_minted_once_for_many_calls() {
    // Behind proxies Coupa tokens may live an hour: that is one token for a whole sync, not one
    // per request.
    let server = MockServer::start().await;
    let minted = token_endpoint(&server, 3600).await;
    users_ok(&server).await;
    let client = CoupaClient::new(config(&server)).unwrap();
    for _ in 0..50 {
        client.users().page().await.unwrap();
    }
    assert_eq!(minted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn twenty_concurrent_calls_on_an_expired_token_refresh_once() {
    let server = MockServer::start().await;
    let minted = token_endpoint(&server, 2).await;
    users_ok(&server).await;
    let client = CoupaClient::new(config(&server)).unwrap();
    client.authenticate().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.users().page().await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(
        minted.load(Ordering::SeqCst),
        2,
        "one initial token, one refresh"
    );
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let server = MockServer::start().await;
    let minted = token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .expect(1)
        .mount(&server)
        .await;
    let users = client(&server).users().page().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(minted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_second_401_is_an_auth_error() {
    let server = MockServer::start().await;
    let minted = token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "authentication failed (HTTP 401): the token was refused again after a refresh"
    );
    assert_eq!(minted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn token_endpoint_errors_are_typed_and_never_show_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("client_secret"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "Client authentication failed"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Auth {
                status: 400,
                code: Some(OAuthError::InvalidClient),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "authentication failed (HTTP 400, invalid_client): Client authentication failed"
    );
    assert!(!format!("{err:?}").contains(SECRET));
    assert!(seen(&server, "/api/users").await.is_empty());

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_scope"})))
        .mount(&server)
        .await;
    let err = client(&server).authenticate().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth {
                code: Some(OAuthError::InvalidScope),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn debug_output_never_shows_secrets_or_tokens() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    users_ok(&server).await;
    let config = config(&server);
    let client = CoupaClient::new(config.clone()).unwrap();
    client.users().page().await.unwrap();
    for text in [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
    ] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("tok-1"), "{text}");
    }
    assert!(format!("{client:?}").contains("client-id"));
}

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_never_show_secrets_or_tokens() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    users_ok(&server).await;
    client(&server).users().page().await.unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying coupa request"), "{logs}");
    assert!(logs.contains("/api/users"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(!logs.contains("tok-1"), "{logs}");
}
