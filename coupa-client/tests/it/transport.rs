//! A hardened transport: no redirects, https unless loopback, no userinfo, capped bodies and
//! server-given waits, shared budgets.

use std::time::{Duration, Instant};

use coupa_client::{Budget, Config, CoupaClient, Error};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRET, client, config, seen, token_endpoint};

/// A server that records everything and answers 200: where a followed redirect would land.
async fn capture() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "x"})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_an_error_and_sends_nothing_on() {
    let server = MockServer::start().await;
    let elsewhere = capture().await;
    let location = format!("{}/oauth2/token", elsewhere.uri());
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", location.as_str()))
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    match &err {
        Error::Redirect {
            status,
            location: l,
            ..
        } => assert_eq!((*status, l.as_deref()), (307, Some(location.as_str()))),
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains(SECRET));
    assert_eq!(seen(&server, "/oauth2/token").await.len(), 1, "not retried");
    let forwarded = elsewhere.received_requests().await.unwrap_or_default();
    assert!(forwarded.is_empty(), "the secret went to {forwarded:?}");
}

#[tokio::test]
async fn a_redirect_from_an_api_call_is_an_error_and_sends_no_token_on() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    let elsewhere = capture().await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(301).insert_header(
            "location",
            format!("{}/api/users", elsewhere.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    let err = client(&server).users().page().await.unwrap_err();
    assert!(
        matches!(err, Error::Redirect { status: 301, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("GET /api/users answered HTTP 301 redirecting to http://"),
        "{err}"
    );
    assert!(
        elsewhere
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// A server whose users endpoint answers 429 with `retry_after`.
async fn rate_limited(retry_after: &str) -> MockServer {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", retry_after))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_huge_retry_after_is_reported_not_slept() {
    let far = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(7200));
    for (value, asked) in [
        ("3000", Some(Duration::from_secs(3000))),
        ("18446744073709551615", Some(Duration::from_secs(u64::MAX))),
        (far.as_str(), None),
    ] {
        let server = rate_limited(value).await;
        let started = Instant::now();
        let err = client(&server).users().page().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{value}: slept");
        let Error::WaitTooLong {
            asked: got,
            allowed,
            ..
        } = &err
        else {
            panic!("{value}: {err:?}")
        };
        assert_eq!(*allowed, Duration::from_secs(300));
        match asked {
            Some(asked) => assert_eq!(*got, asked),
            None => assert!(*got > Duration::from_secs(7000), "{got:?}"),
        }
        assert_eq!(seen(&server, "/api/users").await.len(), 1, "{value}");
    }
    let server = rate_limited("3000").await;
    let err = client(&server).users().page().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /api/users: the server asked to wait 3000 s, more than the 300 s allowed"
    );
}

#[tokio::test]
async fn a_configured_cap_allows_longer_waits() {
    let server = rate_limited("301").await;
    let mut config = config(&server);
    config.retry = config
        .retry
        .clone()
        .with_max_server_wait(Duration::from_secs(600));
    let client = CoupaClient::new(config).unwrap();
    // 301 s is within the cap but past the retry time bound (120 s): given up, not slept.
    let started = Instant::now();
    let err = client.users().page().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
}

#[tokio::test]
async fn a_huge_expires_in_does_not_panic() {
    let server = MockServer::start().await;
    let minted = token_endpoint(&server, u64::MAX).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let client = client(&server);
    client.users().page().await.unwrap();
    client.users().page().await.unwrap();
    assert_eq!(minted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_over_the_cap_is_an_error() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    let big: Vec<serde_json::Value> = (0..100)
        .map(|i| json!({"id": i, "login": "x".repeat(50)}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(big))
        .mount(&server)
        .await;
    let client = CoupaClient::new(config(&server).with_max_body_bytes(4096)).unwrap();
    let err = client.users().page().await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 4096, .. }),
        "{err:?}"
    );
    let client = CoupaClient::new(config(&server).with_max_body_bytes(64 * 1024)).unwrap();
    assert_eq!(client.users().page().await.unwrap().len(), 100);
}

#[test]
fn plain_http_is_refused_unless_loopback_or_asked_for() {
    let secret = || SecretString::from(SECRET);
    for url in [
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://[::1]:9/",
        "https://acme.coupahost.com/",
    ] {
        let config = Config::with_base_url(url, "id", secret()).unwrap();
        assert!(CoupaClient::new(config).is_ok(), "{url}");
    }
    let config = Config::with_base_url("http://acme.coupahost.com/", "id", secret()).unwrap();
    let err = CoupaClient::new(config.clone()).unwrap_err();
    assert!(
        err.to_string()
            .contains("is plain http to a host that is not loopback"),
        "{err}"
    );
    assert!(CoupaClient::new(config.with_insecure_http(true)).is_ok());
}

#[test]
fn a_base_url_with_a_password_is_refused_and_never_shown() {
    for url in [
        "https://alice:hunter2@acme.coupahost.com/",
        "https://alice@acme.coupahost.com/",
        "https://alice:hunter2@bad host/",
    ] {
        let err = Config::with_base_url(url, "id", SecretString::from(SECRET)).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("alice"), "{text}");
    }
}

#[tokio::test]
async fn clients_on_one_budget_share_the_rate_and_the_counters() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    // 5 requests per second with a burst of 5: 3 clients making 4 requests each (12, plus a
    // token each) need at least (15 - 5) / 5 = 2 seconds together.
    let budget = Budget::new(Some(5));
    let clients: Vec<CoupaClient> = (0..3)
        .map(|_| CoupaClient::new(config(&server).with_budget(budget.clone())).unwrap())
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in &clients {
        for _ in 0..4 {
            let client = client.clone();
            tasks.push(tokio::spawn(async move { client.users().page().await }));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    let stats = budget.stats();
    assert_eq!((stats.requests, stats.tokens), (15, 3));
    assert_eq!(clients[0].stats(), stats);
}
