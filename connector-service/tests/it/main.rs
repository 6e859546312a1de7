//! The service over real HTTP on loopback, serving the SDK's fake connector: nothing here knows
//! any real connector, so what a generic host must do is tested generically. (The Coupa connector
//! served the same way is tested in coupa-connector's own `service` tests.)

#![allow(missing_docs, unreachable_pub)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{MemoryStore, RetryPolicy, SyncConfig};
use connector_service::{Auth, Service, ServiceConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "fake-service-token-0123456789-abcdefgh";

/// A running service for `tenant`.
struct Running {
    base: String,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(tenant: &FakeTenant) -> Self {
        Self::start_on(tenant.registry(), Arc::new(MemoryStore::new())).await
    }

    /// A service for `registry` on `store` (shared with other services, if they like).
    async fn start_on(
        registry: connector_sdk::Registry,
        store: Arc<dyn connector_sdk::backend::WorkQueue>,
    ) -> Self {
        let config = ServiceConfig::new(Auth::bearer(TOKEN).unwrap())
            .with_schedule(false)
            .with_readiness_interval(Duration::from_millis(100))
            .with_sync(
                SyncConfig::default().with_workers(4).with_retry(
                    RetryPolicy::default()
                        .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
                ),
            );
        let service = Service::new(registry, store, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(service.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            stop,
            served,
        }
    }

    async fn call(&self, method: Method, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Starts a sync and waits for it to end; its summary.
    async fn sync(&self) -> Value {
        let (status, body) = self.call(Method::POST, "/v1/syncs").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let run = body["run"].as_i64().unwrap();
        for _ in 0..500 {
            let (_, summary) = self.call(Method::GET, &format!("/v1/syncs/{run}")).await;
            if summary["status"] != "running" {
                return summary;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("run {run} did not end");
    }

    /// Every page of a listing, its rows' `field` values.
    async fn all(&self, path: &str, rows: &str, field: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let page_path = match &token {
                Some(t) => format!("{path}&page_token={t}"),
                None => path.to_owned(),
            };
            let (status, page) = self.call(Method::GET, &page_path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for row in page[rows].as_array().unwrap() {
                out.insert(row[field].as_str().unwrap().to_owned());
            }
            match page["next_page_token"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => return out,
            }
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn v1_needs_the_token_and_health_does_not() {
    let tenant = FakeTenant::new(Shape::default());
    let running = Running::start(&tenant).await;
    let anonymous = running
        .http
        .get(format!("{}/v1/syncs/latest", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let live = running
        .http
        .get(format!("{}/livez", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    running.stop().await;
}

#[tokio::test]
async fn a_sync_serves_the_tenants_exact_rows() {
    let tenant = FakeTenant::new(Shape {
        users: 57,
        groups: 9,
        page_size: 5,
        ..Shape::default()
    });
    let running = Running::start(&tenant).await;
    let summary = running.sync().await;
    assert_eq!(summary["status"], "completed", "{summary}");
    let mut resources = BTreeSet::new();
    for t in ["user", "role", "group", "project"] {
        let ids = running
            .all(&format!("/v1/resources?type={t}"), "resources", "id")
            .await;
        resources.extend(ids);
    }
    assert_eq!(resources, tenant.expected_resources());
    let mut grants = BTreeSet::new();
    for u in 1..=57 {
        grants.extend(
            running
                .all(&format!("/v1/grants?principal=user:{u}"), "grants", "id")
                .await,
        );
    }
    assert_eq!(grants, tenant.expected_grants());
    running.stop().await;
}

#[tokio::test]
async fn grants_and_revokes_change_the_tenant_and_say_what_they_did() {
    let tenant = FakeTenant::new(Shape::default());
    let running = Running::start(&tenant).await;
    assert!(!tenant.is_member(2, 2));
    let path = "/v1/entitlements/group:2:member/principals/user:2";
    let outcomes = [
        (Method::PUT, "granted", true),
        (Method::PUT, "already_granted", true),
        (Method::DELETE, "revoked", false),
        (Method::DELETE, "already_revoked", false),
    ];
    for (method, outcome, member) in outcomes {
        let (status, body) = running.call(method, path).await;
        assert_eq!(
            (status, &body),
            (StatusCode::OK, &json!({"outcome": outcome}))
        );
        assert_eq!(tenant.is_member(2, 2), member, "{outcome}");
    }
    running.stop().await;
}

#[tokio::test]
async fn a_failing_write_is_503_and_changes_nothing() {
    let tenant = FakeTenant::new(Shape::default());
    tenant.faults.failing_writes.store(1, Ordering::SeqCst);
    let running = Running::start(&tenant).await;
    let path = "/v1/entitlements/group:2:member/principals/user:2";
    let (status, body) = running.call(Method::PUT, path).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["kind"], "upstream_unavailable");
    assert!(!tenant.is_member(2, 2));
    running.stop().await;
}

#[tokio::test]
async fn actions_are_validated_then_run() {
    let tenant = FakeTenant::new(Shape::default());
    let running = Running::start(&tenant).await;
    let (status, body) = running
        .post("/v1/actions/touch_user", json!({"user_id": "3"}))
        .await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({"result": {"user_id": "3"}}))
    );
    let (status, body) = running.post("/v1/actions/touch_user", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(tenant.faults.action_calls.load(Ordering::SeqCst), 1);
    let (status, _) = running.post("/v1/actions/nope", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    running.stop().await;
}

#[tokio::test]
async fn a_sync_that_fails_at_a_page_is_reported_and_the_next_one_resumes() {
    let tenant = FakeTenant::new(Shape::default());
    *tenant.faults.fail_at.lock().unwrap() = Some(4);
    let running = Running::start(&tenant).await;
    let failed = running.sync().await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let run = failed["run"].clone();
    let completed = running.sync().await;
    assert_eq!(completed["status"], "completed", "{completed}");
    assert_eq!(completed["run"], run, "the same run, resumed");
    running.stop().await;
}

/// Two tenants' services on one store: each serves its own runs, and another tenant's run is
/// not found, by id either.
#[tokio::test]
async fn a_run_of_another_tenant_in_the_same_store_is_not_served() {
    let tenant = FakeTenant::new(Shape::default());
    let store: Arc<dyn connector_sdk::backend::WorkQueue> = Arc::new(MemoryStore::new());
    let a = Running::start_on(tenant.registry_for("tenant-a"), store.clone()).await;
    let b = Running::start_on(tenant.registry_for("tenant-b"), store.clone()).await;
    let first = a.sync().await;
    assert_eq!(
        (first["run"].as_i64(), &first["status"]),
        (Some(1), &json!("completed"))
    );
    let (status, _) = a.call(Method::GET, "/v1/syncs/1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = b.call(Method::GET, "/v1/syncs/1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = b.call(Method::GET, "/v1/syncs/latest").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    a.stop().await;
    b.stop().await;
}
