//! Criterion benchmarks of coupa-client: decoding a page of 50 fully populated users, and the
//! client's overhead per request against a local server with no latency (rate limiter off).

#![allow(missing_docs)]
#![recursion_limit = "256"]

use coupa_client::{Config, CoupaClient, RetryConfig, User};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn full_user(id: i64) -> Value {
    let refs = |n: i64, what: &str| {
        (0..n)
            .map(|k| json!({"id": id * 10 + k, "name": format!("{what} {k}")}))
            .collect::<Vec<_>>()
    };
    json!({
        "id": id, "login": format!("user{id}"), "email": format!("user{id}@example.com"),
        "firstname": "First", "lastname": "Last", "middlename": null, "fullname": "First Last",
        "employee-number": format!("E{id:06}"), "sso-identifier": format!("sso-{id}"),
        "mention-name": format!("user{id}"), "active": true, "api-user": false,
        "authentication-method": "saml", "account-security-type": 0,
        "business-group-security-type": 1, "default-locale": "en",
        "default-currency": {"code": "USD"}, "default-account-type": {"name": "US Ops"},
        "department": {"id": 3, "name": "Finance"},
        "custom-fields": {"cost-center": "CC-100", "region": "EMEA"},
        "created-at": "2016-11-08T11:28:50+02:00", "updated-at": "2024-01-02T03:04:05+00:00",
        "manager": {"id": 1, "login": "boss"},
        "purchasing-user": true, "expense-user": true, "sourcing-user": false,
        "inventory-user": false, "contracts-user": true, "analytics-user": false,
        "aic-user": false, "spend-guard-user": false, "ccw-user": false,
        "clm-advanced-user": false, "supply-chain-user": false, "risk-assess-user": false,
        "travel-user": true, "treasury-user": false, "invoicing-user": true,
        "category-planner-user": false, "category-strategy-user": false, "intake-user": true,
        "coupa-navi-ai-agent-user": false,
        "roles": refs(3, "Role"), "user-groups": refs(3, "Group"),
        "account-groups": refs(1, "Account group"), "content-groups": refs(2, "Content group"),
        "approval-groups": refs(1, "Approval group")
    })
}

fn decode(c: &mut Criterion) {
    let page: Vec<Value> = (1..=50).map(full_user).collect();
    let body = serde_json::to_vec(&page).expect("json");
    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(50));
    group.bench_function("decode page of 50 full users", |b| {
        b.iter(|| {
            let users: Vec<User> = serde_json::from_slice(&body).expect("decode");
            assert_eq!(users.len(), 50);
        });
    });
    group.finish();
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (server, client) = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"access_token": "t", "token_type": "bearer", "expires_in": 86399}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/users"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
            .mount(&server)
            .await;
        let config = Config::for_test_server(&server.uri(), "id", "secret")
            .expect("config")
            .with_retry(RetryConfig::none());
        let client = CoupaClient::new(config).expect("client");
        client.authenticate().await.expect("token");
        (server, client)
    });
    let mut group = c.benchmark_group("client overhead");
    const BATCH: u64 = 64;
    group.throughput(Throughput::Elements(BATCH));
    for concurrency in [1usize, 8] {
        group.bench_with_input(
            BenchmarkId::new("GET /api/users", format!("concurrency {concurrency}")),
            &concurrency,
            |b, &concurrency| {
                b.to_async(&runtime).iter(|| {
                    let client = client.clone();
                    async move {
                        let per_task = BATCH as usize / concurrency;
                        let tasks = (0..concurrency).map(|_| {
                            let client = client.clone();
                            tokio::spawn(async move {
                                for _ in 0..per_task {
                                    client.users().limit(1).page().await.expect("page");
                                }
                            })
                        });
                        futures::future::join_all(tasks).await;
                    }
                });
            },
        );
    }
    group.finish();
    drop(server);
}

criterion_group!(benches, decode, overhead);
criterion_main!(benches);
