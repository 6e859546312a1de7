//! Service mode end to end against the fake control plane, on the SDK's fake connector: every
//! task type, refusals, cancellation, faults of the token endpoint, GetTask and FinishTask, a
//! wrong secret, and shutdown.

#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use c1_service_mode::testing::{FakeControlPlane, ScriptedTask, TaskResult};
use c1_service_mode::{Config, ServiceMode, Stopped};
use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{EntitlementId, Grant, MemoryStore, ResourceId};
use secrecy::SecretString;
use serde_json::{Map, json};
use tokio::sync::oneshot;

struct Running {
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Stopped>,
}

impl Running {
    async fn stop(self) -> Duration {
        self.stop_with().await.0
    }

    /// Stops; how long it took and what it reported.
    async fn stop_with(mut self) -> (Duration, Stopped) {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stopped = (&mut self.done).await.unwrap();
        (started.elapsed(), stopped)
    }
}

fn config(plane: &FakeControlPlane, secret: SecretString, provisioning: bool) -> Config {
    Config::new(plane.client_id(), secret)
        .unwrap()
        .with_ca_bundle_pem(plane.ca_pem())
        .with_provisioning(provisioning)
        .with_min_poll(Duration::from_millis(10))
        .with_host_id("test-host")
}

fn start(tenant: &FakeTenant, config: Config) -> Running {
    let store = Arc::new(MemoryStore::new());
    let mode = ServiceMode::new(tenant.registry_for("fake tenant"), store, config).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(mode.run(async move {
        let _ = stopped.await;
    }));
    Running {
        stop: Some(stop),
        done,
    }
}

fn member(group: u32) -> EntitlementId {
    EntitlementId::new(ResourceId::new("group", group.to_string()), "member")
}

fn user(id: u32) -> ResourceId {
    ResourceId::new("user", id.to_string())
}

fn args(value: serde_json::Value) -> Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_type_runs_and_is_answered() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    assert!(!tenant.is_member(1, 1) && tenant.is_member(1, 2));
    let sync = plane.push(ScriptedTask::sync_full());
    let grant = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let revoke = plane.push(ScriptedTask::revoke(&Grant::new(member(1), user(2))));
    let again = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let action = plane.push(ScriptedTask::action(
        "touch_user",
        &args(json!({"user_id": "4"})),
    ));
    let schemas = plane.push(ScriptedTask::action_list_schemas());
    let hello = plane.push(ScriptedTask::hello());
    let account = plane.push(ScriptedTask::create_account(
        "kat",
        "kat@example.com",
        &Map::new(),
    ));
    let unsupported = plane.push(ScriptedTask::unsupported());
    let running = start(&tenant, config(&plane, plane.client_secret(), true));
    let finished = plane.wait_finished(8, WAIT).await;
    assert!(
        plane.wait_for(WAIT, |p| p.hellos().len() == 2).await,
        "{:?}",
        plane.hellos()
    );
    running.stop().await;

    let by_id = |id: &str| {
        finished
            .iter()
            .find(|f| f.task_id == id)
            .unwrap_or_else(|| panic!("{id} not finished: {finished:?}"))
    };
    assert!(finished.iter().all(|f| f.host_id == "test-host"));
    // The sync: uploaded as a .c1z holding exactly the tenant, then finished with no response.
    assert_eq!(
        by_id(&sync).result,
        TaskResult::Success {
            response_type: None,
            response: Vec::new(),
            annotations: Vec::new()
        }
    );
    let uploads = plane.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].task_id, sync);
    assert!(uploads[0].checksum_ok);
    assert!(uploads[0].chunks.iter().all(|c| *c <= 512 * 1024));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload.c1z");
    std::fs::write(&file, &uploads[0].bytes).unwrap();
    let reader = c1z::Reader::open(&file).unwrap();
    let grants: std::collections::BTreeSet<String> = reader
        .grants()
        .map(|g| g.unwrap().id().to_string())
        .collect();
    assert_eq!(grants, FakeTenant::new(Shape::default()).expected_grants());

    // Grant and revoke change the tenant and answer in baton's form.
    assert_eq!(by_id(&grant).grants(), [Grant::new(member(1), user(1))]);
    assert!(
        matches!(&by_id(&grant).result, TaskResult::Success { response_type: Some(t), annotations, .. }
        if t == "c1.connector.v2.GrantManagerServiceGrantResponse" && annotations.is_empty())
    );
    assert!(
        matches!(&by_id(&again).result, TaskResult::Success { annotations, .. }
        if annotations == &["c1.connector.v2.GrantAlreadyExists"])
    );
    assert!(
        matches!(&by_id(&revoke).result, TaskResult::Success { response_type: Some(t), .. }
        if t == "c1.connector.v2.GrantManagerServiceRevokeResponse")
    );
    assert!(tenant.is_member(1, 1) && !tenant.is_member(1, 2));

    // Actions.
    assert_eq!(
        by_id(&action).action_result(),
        Some(args(json!({"user_id": "4"})))
    );
    assert_eq!(tenant.faults.action_calls.load(Ordering::SeqCst), 1);
    assert_eq!(by_id(&schemas).action_names(), ["touch_user"]);

    // What the connector cannot do is final.
    assert_eq!(
        by_id(&account).result,
        TaskResult::Error {
            code: 12,
            message: "the connector does not create accounts".into(),
            non_retryable: true
        }
    );
    assert_eq!(
        by_id(&unsupported).result,
        TaskResult::Error {
            code: 12,
            message: "unsupported task type create_resource".into(),
            non_retryable: true
        }
    );

    // Hello at start-up and for the HelloTask, with the connector's capabilities.
    let hellos = plane.hellos();
    assert_eq!(hellos[0].task_id, "");
    assert_eq!(hellos[1].task_id, hello);
    assert!(
        hellos
            .iter()
            .all(|h| h.complete && h.host_id == "test-host")
    );
    assert_eq!(hellos[0].display_name, "Synthetic");
    assert_eq!(
        hellos[0].capabilities,
        [
            ("group".to_owned(), vec![1, 2]),
            ("project".to_owned(), vec![2]),
            ("role".to_owned(), vec![2]),
            ("user".to_owned(), vec![2]),
        ]
    );
    assert_eq!(hellos[0].connector_capabilities, [1, 2, 10]);
    assert!(finished.iter().all(|f| f.task_id != hello));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_unless_provisioning_is_enabled() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    let grant = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let action = plane.push(ScriptedTask::action(
        "touch_user",
        &args(json!({"user_id": "4"})),
    ));
    let schemas = plane.push(ScriptedTask::action_list_schemas());
    let running = start(&tenant, config(&plane, plane.client_secret(), false));
    let finished = plane.wait_finished(3, WAIT).await;
    running.stop().await;
    for id in [&grant, &action] {
        let result = &finished.iter().find(|f| &f.task_id == id).unwrap().result;
        assert!(
            matches!(result, TaskResult::Error { code: 9, non_retryable: true, message }
                if message.contains("provisioning is not enabled")),
            "{result:?}"
        );
    }
    assert!(!tenant.is_member(1, 1));
    assert_eq!(tenant.faults.action_calls.load(Ordering::SeqCst), 0);
    // Reading is not a write.
    let listed = finished.iter().find(|f| f.task_id == schemas).unwrap();
    assert_eq!(listed.action_names(), ["touch_user"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_sync_uploads_nothing_and_the_loop_goes_on() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(150));
    let sync = plane.push(ScriptedTask::sync_full());
    let running = start(&tenant, config(&plane, plane.client_secret(), true));
    assert!(
        plane
            .wait_for(WAIT, |p| p.heartbeats().contains(&sync))
            .await
    );
    plane.cancel(&sync);
    let finished = plane.wait_finished(1, WAIT).await;
    assert_eq!(
        finished[0].result,
        TaskResult::Error {
            code: 1,
            message: "the task was cancelled".into(),
            non_retryable: false
        }
    );
    assert!(plane.uploads().is_empty());
    // The loop goes on.
    *tenant.faults.delay.lock().unwrap() = None;
    let grant = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let finished = plane.wait_finished(2, WAIT).await;
    running.stop().await;
    assert_eq!(finished[1].task_id, grant);
    assert!(tenant.is_member(1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_get_task_and_finish_task_faults_are_retried() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    plane.fail_tokens(2);
    plane.fail_get_task(2);
    plane.fail_finish(1);
    let grant = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let running = start(&tenant, config(&plane, plane.client_secret(), true));
    let finished = plane.wait_finished(1, Duration::from_secs(30)).await;
    running.stop().await;
    assert_eq!(
        finished.len(),
        1,
        "the FinishTask that failed once is sent again"
    );
    assert_eq!(finished[0].task_id, grant);
    assert_eq!(finished[0].grants(), [Grant::new(member(1), user(1))]);
    assert_eq!(plane.token_requests(), (3, 0));
    assert!(tenant.is_member(1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_token_answer_is_cut_at_the_cap_and_retried() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    plane.endless_tokens(1);
    let grant = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let running = start(&tenant, config(&plane, plane.client_secret(), true));
    // Read to the end, the answer would hold the connection until the request's 60 s timeout.
    let finished = plane.wait_finished(1, Duration::from_secs(15)).await;
    running.stop().await;
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].task_id, grant);
    assert_eq!(plane.token_requests(), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    plane.redirect_tokens(1);
    let grant = plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let running = start(&tenant, config(&plane, plane.client_secret(), true));
    let finished = plane.wait_finished(1, WAIT).await;
    running.stop().await;
    assert_eq!(finished[0].task_id, grant);
    // The assertion never went where the redirect pointed; the refused attempt was retried.
    assert_eq!(plane.redirects_followed(), 0);
    assert_eq!(plane.token_requests(), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fetches_no_task() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    plane.push(ScriptedTask::grant(&member(1), &user(1)));
    let wrong = FakeControlPlane::wrong_secret();
    let running = start(&tenant, config(&plane, wrong, true));
    assert!(plane.wait_for(WAIT, |p| p.token_requests().1 >= 2).await);
    assert!(running.stop().await < Duration::from_secs(1));
    assert_eq!(plane.polls(), 0);
    assert!(plane.hellos().is_empty() && plane.finished().is_empty());
    assert_eq!(plane.unauthenticated_calls(), 0);
    assert!(!tenant.is_member(1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_sync_ends_within_the_grace_and_says_why() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(300));
    let sync = plane.push(ScriptedTask::sync_full());
    let running = start(
        &tenant,
        config(&plane, plane.client_secret(), true).with_shutdown_grace(Duration::from_secs(2)),
    );
    assert!(
        plane
            .wait_for(WAIT, |p| p.heartbeats().contains(&sync))
            .await
    );
    let took = running.stop().await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    let finished = plane.finished();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert!(
        matches!(&finished[0].result, TaskResult::Error { code: 14, non_retryable: false, message }
            if message.contains("shutting down")),
        "{:?}",
        finished[0].result
    );
    assert!(plane.uploads().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_flight_at_shutdown_finishes_past_the_grace() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    assert!(tenant.is_member(1, 2));
    *tenant.faults.write_delay.lock().unwrap() = Some(Duration::from_secs(3));
    let revoke = plane.push(ScriptedTask::revoke(&Grant::new(member(1), user(2))));
    let running = start(
        &tenant,
        config(&plane, plane.client_secret(), true).with_shutdown_grace(Duration::from_secs(1)),
    );
    // The task is handed out at the first poll; a second poll means it is running.
    assert!(plane.wait_for(WAIT, |p| p.polls() >= 2).await);
    let (took, stopped) = running.stop_with().await;
    assert_eq!(stopped.writes_cut, 0);
    assert!(took > Duration::from_millis(1500), "{took:?}");
    assert!(!tenant.is_member(1, 2), "the revoke finished");
    let finished = plane.finished();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].task_id, revoke);
    assert!(
        matches!(finished[0].result, TaskResult::Success { .. }),
        "{finished:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_past_the_write_grace_is_cut_and_reported() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    *tenant.faults.write_delay.lock().unwrap() = Some(Duration::from_secs(30));
    plane.push(ScriptedTask::revoke(&Grant::new(member(1), user(2))));
    let running = start(
        &tenant,
        config(&plane, plane.client_secret(), true)
            .with_shutdown_grace(Duration::from_millis(500))
            .with_write_grace(Duration::from_secs(1)),
    );
    assert!(plane.wait_for(WAIT, |p| p.polls() >= 2).await);
    let (took, stopped) = running.stop_with().await;
    assert_eq!(stopped.writes_cut, 1);
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(tenant.is_member(1, 2));
    assert!(plane.finished().is_empty());
}

#[test]
fn credentials_are_checked_and_never_printed() {
    let error = Config::new("no-at-sign", SecretString::from("x")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid client id \"no-at-sign\": expected <name>@<host>/<suffix>"
    );
    let secret = "secret-token:conductorone.com:v1:bm90LWEta2V5";
    let error = Config::new("a@b/c", SecretString::from(secret)).unwrap_err();
    assert!(!error.to_string().contains("bm90LWEta2V5"), "{error}");
    let key = FakeControlPlane::wrong_secret();
    let config = Config::new("a@host:2443/pcc", key).unwrap();
    let debug = format!("{config:?}");
    assert!(
        debug.contains("REDACTED") && !debug.contains("secret-token"),
        "{debug}"
    );
    assert_eq!(config.api_host(), "host:2443");
    assert_eq!(config.with_api_host("other:443").api_host(), "other:443");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_hello_is_abandoned_at_its_deadline_and_retried() {
    let plane = FakeControlPlane::start().await;
    plane.hang_hellos(1);
    let tenant = FakeTenant::new(Shape::default());
    let task = plane.push(ScriptedTask::action_list_schemas());
    let started = Instant::now();
    let running = start(
        &tenant,
        config(&plane, plane.client_secret(), false).with_call_deadline(Duration::from_secs(1)),
    );
    let finished = plane.wait_finished(1, WAIT).await;
    let recovered = started.elapsed();
    assert_eq!(finished[0].task_id, task);
    assert_eq!(plane.hello_calls(), 2);
    // The deadline (1 s), then the first backoff (0.5 to 1 s).
    assert!(
        recovered >= Duration::from_secs(1) && recovered < Duration::from_secs(5),
        "{recovered:?}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_upload_is_abandoned_and_its_slot_freed() {
    let plane = FakeControlPlane::start().await;
    plane.hang_uploads(1);
    let tenant = FakeTenant::new(Shape::default());
    let stalled = plane.push(ScriptedTask::sync_full());
    let next = plane.push(ScriptedTask::action_list_schemas());
    let again = plane.push(ScriptedTask::sync_full());
    let started = Instant::now();
    let running = start(
        &tenant,
        config(&plane, plane.client_secret(), false)
            .with_concurrency(1)
            .with_upload_stall(Duration::from_secs(1)),
    );
    let finished = plane.wait_finished(3, WAIT).await;
    let took = started.elapsed();
    running.stop().await;
    let ids: Vec<&str> = finished.iter().map(|f| f.task_id.as_str()).collect();
    assert_eq!(ids, [stalled.as_str(), next.as_str(), again.as_str()]);
    assert!(
        matches!(&finished[0].result, TaskResult::Error { code: 14, non_retryable: false, message }
            if message.contains("UploadAsset made no progress for 1 s")),
        "{:?}",
        finished[0].result
    );
    assert!(matches!(finished[1].result, TaskResult::Success { .. }));
    assert!(matches!(finished[2].result, TaskResult::Success { .. }));
    assert_eq!(plane.upload_calls(), 2);
    assert_eq!(plane.uploads().len(), 1);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_it_does_not_implement_run_the_full_sync() {
    let plane = FakeControlPlane::start().await;
    let tenant = FakeTenant::new(Shape::default());
    let task = plane.push(ScriptedTask::sync_skipping_grants());
    let running = start(&tenant, config(&plane, plane.client_secret(), false));
    let finished = plane.wait_finished(1, WAIT).await;
    running.stop().await;
    assert_eq!(finished[0].task_id, task);
    assert!(matches!(finished[0].result, TaskResult::Success { .. }));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    std::fs::write(&file, &plane.uploads()[0].bytes).unwrap();
    let grants = c1z::Reader::open(&file).unwrap().grants().count();
    assert_eq!(
        grants,
        tenant.expected_grants().len(),
        "every grant, not none"
    );
}
