use std::time::{Duration, Instant};

use coupa_client::{Error, NewUser, UserUpdate};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{client, seen, token_endpoint};

#[tokio::test]
async fn a_5xx_then_success_is_retried() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.users().page().await.unwrap().len(), 1);
    assert_eq!(seen(&server, "/api/users").await.len(), 3);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_429_honours_retry_after() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let client = client(&server);
    let started = Instant::now();
    client.users().page().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().rate_limit_waits, 1);
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let client = client(&server);
    let started = Instant::now();
    client.users().page().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(seen(&server, "/api/users").await.len(), 3);
    assert_eq!(client.stats().rate_limit_waits, 2);
}

#[tokio::test]
async fn retries_run_out_with_the_last_error() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .expect(4)
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Coupa answered HTTP 502 to GET /api/users: <html>Bad gateway</html>"
    );
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.attempts, 4);
    assert!(err.is_transient());

    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .expect(4)
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { attempts: 4, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn writes_are_not_retried_on_5xx_but_a_429_is_waited_for_and_sent_again() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("PUT"))
        .and(path("/api/users/5"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    // Coupa's rate limit refuses a request before processing it: the write is sent again
    // after the wait it asks for.
    Mock::given(method("POST"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/users"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"id": 9, "login": "l", "email": "e@x.com"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client
        .update_user(5, &UserUpdate::new().active(false), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    let started = std::time::Instant::now();
    let created = client
        .create_user(&NewUser::new("l", "e@x.com", "F", "L"))
        .await
        .unwrap();
    assert_eq!(created.id, 9);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let put = &seen(&server, "/api/users/5").await[0];
    assert_eq!(put.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(put.body, br#"{"active":false}"#);
}

#[tokio::test]
async fn writes_are_retried_when_the_connection_was_never_made() {
    // Nothing listens on this port: every attempt is a connect error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = coupa_client::Config::for_test_server(&format!("http://{addr}/"), "id", "s")
        .unwrap()
        .with_retry(
            coupa_client::RetryConfig::default()
                .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
                .with_max_attempts(3),
        );
    let client = coupa_client::CoupaClient::new(config).unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(
        client.stats().requests,
        3,
        "the token POST was retried on connect errors"
    );
}
