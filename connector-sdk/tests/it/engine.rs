use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use connector_sdk::backend::WorkQueue;
use connector_sdk::testing::FixedFingerprint;
use connector_sdk::{
    Error, IntegrityMode, MemoryStore, RetryPolicy, RunStatus, SqliteStore, Stage, Store,
    SyncConfig, SyncEngine, SyncEvent,
};
use tokio_util::sync::CancellationToken;

use crate::fixture::{Shape, Tenant};
use crate::{dump, grant_ids, resource_ids};

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(4))
}

fn engine(tenant: &Tenant, store: Arc<dyn WorkQueue>, workers: usize) -> SyncEngine {
    let config = SyncConfig::default()
        .with_workers(workers)
        .with_retry(fast_retry());
    SyncEngine::new(tenant.registry(), store, config)
}

#[tokio::test]
async fn the_bulk_shape_is_list_only_and_stores_exactly_its_ground_truth() {
    let tenant = Tenant::new(Shape::bulk(11, 4, 3, 3));
    tenant.faults.removed.lock().unwrap().insert((2, 1));
    tenant.faults.added.lock().unwrap().insert((4, 1));
    let store = Arc::new(MemoryStore::new());
    let report = engine(&tenant, store.clone(), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        resource_ids(store.as_ref(), report.run),
        tenant.expected_resources()
    );
    let grants = grant_ids(store.as_ref(), report.run);
    assert_eq!(grants, tenant.expected_grants());
    // User 1 is in groups 2, 3 and 4 (from its own id on), less the removed 2, plus the added 4.
    let user_1: Vec<&String> = grants
        .iter()
        .filter(|g| g.starts_with("group:") && g.ends_with(":user:1"))
        .collect();
    assert_eq!(user_1, ["group:3:member:user:1", "group:4:member:user:1"]);
    assert_eq!(
        report.counts.total_resources(),
        tenant.shape.resource_count()
    );
    assert_eq!(report.counts.grants[&"group".into()], 11 * 3 - 1);
    // List-only: one call per page (4 user pages, 1 role page, 2 group pages), no per-group call.
    let calls = tenant.faults.calls.load(Ordering::SeqCst);
    assert!((7..=7 + 2).contains(&calls), "{calls} calls");
}

#[tokio::test]
async fn full_sync_stores_exactly_the_ground_truth() {
    let tenant = Tenant::new(Shape::default());
    let store = Arc::new(MemoryStore::new());
    let report = engine(&tenant, store.clone(), 4)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(!report.resumed);
    assert_eq!(
        resource_ids(store.as_ref(), report.run),
        tenant.expected_resources()
    );
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
    let counts = &report.counts;
    assert_eq!(counts.resources[&"user".into()], 23);
    assert_eq!(counts.resources[&"project".into()], 4);
    assert_eq!(counts.entitlements[&"group".into()], 5);
    assert_eq!(counts.entitlements[&"role".into()], 2);
    assert_eq!(counts.grants[&"role".into()], 23);
    // Projects carry their parent.
    let project = store
        .resource(
            report.run,
            &connector_sdk::ResourceId::new("project", "2-a"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        project.parent,
        Some(connector_sdk::ResourceId::new("group", "2"))
    );
    assert_eq!(store.runs().unwrap()[0].status, RunStatus::Completed);
}

#[tokio::test]
async fn worker_counts_give_identical_rows() {
    let tenant = Tenant::new(Shape {
        users: 57,
        groups: 9,
        page_size: 5,
        ..Shape::default()
    });
    let mut dumps = Vec::new();
    for workers in [1, 3, 8] {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let report = engine(&tenant, store.clone(), workers)
            .run(&CancellationToken::new())
            .await
            .unwrap();
        dumps.push(dump(store.as_ref(), report.run));
    }
    assert_eq!(dumps[0], dumps[1]);
    assert_eq!(dumps[0], dumps[2]);
    assert!(dumps[0].len() > 150, "{} rows", dumps[0].len());
}

/// Paused clock: the waits are virtual, so the test is as fast as its logic.
#[tokio::test(start_paused = true)]
async fn one_listing_is_fetched_by_several_workers_at_once() {
    let tenant = Tenant::new(Shape {
        users: 200,
        groups: 0,
        page_size: 10,
        ..Shape::default()
    });
    *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(20));
    let store = Arc::new(MemoryStore::new());
    let report = engine(&tenant, store.clone(), 8)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.counts.resources[&"user".into()], 200);
    let max = tenant.faults.max_in_flight.load(Ordering::SeqCst);
    assert!(max >= 6, "at most {max} calls were in flight");
    // 20 full pages, plus the speculative pages past the end (one per worker lane).
    let calls = tenant.faults.calls.load(Ordering::SeqCst);
    assert!((21..=21 + 8 + 1).contains(&calls), "{calls} calls");
}

#[tokio::test]
async fn a_sync_killed_at_any_page_resumes_to_identical_rows() {
    let shape = Shape {
        users: 13,
        groups: 4,
        page_size: 3,
        ..Shape::default()
    };
    let baseline_tenant = Tenant::new(shape.clone());
    let baseline_store = Arc::new(SqliteStore::in_memory().unwrap());
    let report = engine(&baseline_tenant, baseline_store.clone(), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    let baseline = dump(baseline_store.as_ref(), report.run);
    let total_calls = baseline_tenant.faults.calls.load(Ordering::SeqCst);
    assert!(total_calls > 20, "{total_calls}");

    for kill_at in 1..=total_calls {
        let tenant = Tenant::new(shape.clone());
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        *tenant.faults.fail_at.lock().unwrap() = Some(kill_at);
        let err = engine(&tenant, store.clone(), 2)
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Connector { .. }),
            "kill at {kill_at}: {err}"
        );
        assert_eq!(store.runs().unwrap()[0].status, RunStatus::Running);
        *tenant.faults.fail_at.lock().unwrap() = None;
        let resumed = engine(&tenant, store.clone(), 2)
            .run(&CancellationToken::new())
            .await
            .unwrap();
        assert!(resumed.resumed, "kill at {kill_at}");
        assert_eq!(resumed.run, report.run);
        assert_eq!(
            dump(store.as_ref(), resumed.run),
            baseline,
            "kill at {kill_at}"
        );
        assert_eq!(store.runs().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn resume_survives_reopening_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let tenant = Tenant::new(Shape::default());
    *tenant.faults.fail_at.lock().unwrap() = Some(9);
    {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        engine(&tenant, store, 2)
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
    }
    *tenant.faults.fail_at.lock().unwrap() = None;
    let calls_before = tenant.faults.calls.load(Ordering::SeqCst);
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let report = engine(&tenant, store.clone(), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(report.resumed);
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
    assert_eq!(
        resource_ids(store.as_ref(), report.run),
        tenant.expected_resources()
    );

    let fresh = Tenant::new(Shape::default());
    engine(&fresh, Arc::new(MemoryStore::new()), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    let full = fresh.faults.calls.load(Ordering::SeqCst);
    let resumed_calls = tenant.faults.calls.load(Ordering::SeqCst) - calls_before;
    assert!(
        resumed_calls < full,
        "resume redid everything: {resumed_calls} of {full} calls"
    );
}

/// Paused clock: the waits are virtual, so the test is as fast as its logic.
#[tokio::test(start_paused = true)]
async fn cancellation_stops_the_sync_and_it_resumes_later() {
    let tenant = Tenant::new(Shape {
        users: 100,
        groups: 6,
        page_size: 5,
        ..Shape::default()
    });
    *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(10));
    let store = Arc::new(MemoryStore::new());
    let cancel = CancellationToken::new();
    let engine_a = engine(&tenant, store.clone(), 2);
    let mut events = engine_a.subscribe();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        // Cancel after the third stored page.
        let mut pages = 0;
        while let Some(event) = futures::StreamExt::next(&mut events).await {
            if matches!(event, SyncEvent::PageStored { .. }) {
                pages += 1;
                if pages == 3 {
                    canceller.cancel();
                }
            }
        }
    });
    let err = engine_a.run(&cancel).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    *tenant.faults.delay.lock().unwrap() = None;
    let report = engine(&tenant, store.clone(), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(report.resumed);
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
}

#[tokio::test]
async fn a_repeated_page_token_is_an_error_naming_the_syncer() {
    let tenant = Tenant::new(Shape::default());
    tenant.faults.loop_bug.store(true, Ordering::SeqCst);
    let err = engine(&tenant, Arc::new(SqliteStore::in_memory().unwrap()), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "syncer `group` repeated page token \"same\" in the resources stage, resource type `group`"
    );
    // Same through the memory store.
    let err = engine(&tenant, Arc::new(MemoryStore::new()), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PageTokenRepeated { ref syncer, .. } if syncer.as_str() == "group")
    );
    assert!(
        tenant.faults.calls.load(Ordering::SeqCst) < 40,
        "the guard stopped the loop early"
    );
}

/// Paused clock: the waits are virtual, so the test is as fast as its logic.
#[tokio::test(start_paused = true)]
async fn rate_limits_wait_and_retry_the_same_page() {
    let tenant = Tenant::new(Shape::default());
    tenant.faults.rate_limited.store(3, Ordering::SeqCst);
    let store = Arc::new(MemoryStore::new());
    let engine = engine(&tenant, store.clone(), 1);
    let events = engine.subscribe();
    let started = tokio::time::Instant::now();
    let report = engine.run(&CancellationToken::new()).await.unwrap();
    drop(engine);
    let events: Vec<SyncEvent> = futures::StreamExt::collect(events).await;
    assert_eq!(report.progress.rate_limit_waits, 3);
    assert_eq!(report.progress.retries, 0);
    // Exactly the three waits of 5 ms asked for, slept on the (virtual) clock.
    assert_eq!(report.progress.waited, Duration::from_millis(15));
    assert!(started.elapsed() >= Duration::from_millis(15));
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
    let mut waits = 0;
    for event in events {
        if let SyncEvent::RateLimited { wait, .. } = event {
            assert_eq!(wait, Duration::from_millis(5));
            waits += 1;
        }
    }
    assert_eq!(waits, 3);
}

#[tokio::test]
async fn transient_errors_are_retried_then_succeed() {
    let tenant = Tenant::new(Shape::default());
    tenant.faults.transient.store(2, Ordering::SeqCst);
    let store = Arc::new(MemoryStore::new());
    let report = engine(&tenant, store.clone(), 1)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.progress.retries, 2);
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
}

#[tokio::test]
async fn bounded_retries_give_up_with_a_clear_error() {
    let tenant = Tenant::new(Shape::default());
    tenant.faults.transient.store(usize::MAX, Ordering::SeqCst);
    let config = SyncConfig::default()
        .with_workers(1)
        .with_retry(fast_retry().with_max_attempts(3));
    let err = SyncEngine::new(tenant.registry(), Arc::new(MemoryStore::new()), config)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 3, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message
            .starts_with("sync gave up after 3 attempts in the resources stage, resource type `"),
        "{message}"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "transient failure: upstream 503");
    assert_eq!(tenant.faults.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_fatal_error_names_stage_type_and_resource() {
    let tenant = Tenant::new(Shape::default());
    *tenant.faults.missing_group.lock().unwrap() = Some(3);
    let err = engine(&tenant, Arc::new(MemoryStore::new()), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sync failed in the grants stage, resource type `group`, resource `group:3`"
    );
    let Error::Connector { context, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(context.stage, Stage::Grants);
}

#[tokio::test]
async fn progress_events_cover_every_stage() {
    let tenant = Tenant::new(Shape::default());
    let engine = engine(&tenant, Arc::new(MemoryStore::new()), 2);
    let events = engine.subscribe();
    let report = engine.run(&CancellationToken::new()).await.unwrap();
    drop(engine);
    let events: Vec<SyncEvent> = futures::StreamExt::collect(events).await;
    let mut stages = Vec::new();
    let mut last = None;
    for event in events {
        match event {
            SyncEvent::StageStarted { stage } => stages.push(stage),
            SyncEvent::PageStored { progress, .. } => last = Some(progress),
            SyncEvent::Completed { progress } => assert_eq!(progress, report.progress),
            _ => {}
        }
    }
    assert_eq!(
        stages,
        [
            Stage::ResourceTypes,
            Stage::Resources,
            Stage::Entitlements,
            Stage::Grants
        ]
    );
    assert_eq!(last.unwrap().pages, report.progress.pages);
    assert_eq!(
        report.progress.grants,
        tenant.expected_grants().len() as u64
    );
}

every_store!(
    integrity_violations_fail_the_sync_or_warn,
    |backend: crate::backends::Backend| async move {
        use async_trait::async_trait;
        use connector_sdk::{
            ConnectorError, ConnectorMetadata, EntitlementId, Grant, ListRequest, Page, Registry,
            Resource, ResourceId, ResourceSyncer, ResourceTrait, ResourceType, SyncerOptions,
        };

        struct Things;
        #[async_trait]
        impl ResourceSyncer for Things {
            fn resource_type(&self) -> ResourceType {
                ResourceType::new("user", "User", [ResourceTrait::User])
            }
            fn options(&self) -> SyncerOptions {
                SyncerOptions::list_only()
            }
            async fn list(&self, _r: ListRequest) -> Result<Page<Resource>, ConnectorError> {
                let user = ResourceId::new("user", "1");
                let group = crate::fixture::member_entitlement(ResourceId::new("user", "1"));
                Ok(Page::new(vec![Resource::new(user.clone(), "One")])
                    .with_entitlements([group])
                    .with_grants([
                        // Entitlement never emitted.
                        Grant::new(
                            EntitlementId::new(ResourceId::new("user", "9"), "member"),
                            user.clone(),
                        ),
                        // Principal never emitted.
                        Grant::new(
                            EntitlementId::new(user.clone(), "member"),
                            ResourceId::new("user", "2"),
                        ),
                        // Fine.
                        Grant::new(EntitlementId::new(user.clone(), "member"), user.clone()),
                    ]))
            }
        }
        let registry = Registry::builder(
            ConnectorMetadata::new("bad", "Bad", "Emits dangling grants"),
            FixedFingerprint("bad"),
        )
        .syncer(Things)
        .build()
        .unwrap();
        let store = backend.store.clone();
        let err = SyncEngine::new(registry.clone(), store.clone(), SyncConfig::default())
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        let Error::Integrity { count, first } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*count, 2);
        let text: Vec<String> = first.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "grant `user:1:member:user:2`: its principal was never synced",
                "grant `user:9:member:user:1`: its entitlement was never synced",
            ]
        );
        let memory = MemoryStore::new();
        let run = crate::begin(&memory, "x");
        let rows = connector_sdk::backend::PageCommit {
            resources: vec![Resource::new(ResourceId::new("user", "1"), "One")],
            entitlements: vec![crate::fixture::member_entitlement(ResourceId::new(
                "user", "1",
            ))],
            grants: vec![
                Grant::new(
                    EntitlementId::new(ResourceId::new("user", "9"), "member"),
                    ResourceId::new("user", "1"),
                ),
                Grant::new(
                    EntitlementId::new(ResourceId::new("user", "1"), "member"),
                    ResourceId::new("user", "2"),
                ),
            ],
            ..Default::default()
        };
        memory.commit_page(run, crate::LEASE, &rows).unwrap();
        assert_eq!(
            memory.integrity_issues(run, 5).unwrap(),
            (*count, first.clone())
        );
        assert_eq!(store.runs().unwrap()[0].status, RunStatus::Failed);

        let config = SyncConfig::default().with_integrity(IntegrityMode::Warn);
        let report = SyncEngine::new(registry, store.clone(), config)
            .run(&CancellationToken::new())
            .await
            .unwrap();
        assert!(!report.resumed, "a failed run is not resumed");
        assert_eq!(report.integrity_violations, 2);
        assert_eq!(report.warnings[0], "2 grant(s) failed integrity checks");
        assert_eq!(report.counts.total_grants(), 3, "nothing is dropped");
    }
);

every_store!(
    not_grantable_principals_are_reported,
    |backend: crate::backends::Backend| async move {
        use connector_sdk::backend::PageCommit;
        use connector_sdk::{EntitlementId, Grant, ResourceId};
        let store = backend.store.clone();
        let run = crate::begin(store.as_ref(), "x");
        let ent = crate::fixture::member_entitlement(ResourceId::new("group", "1"));
        let commit = PageCommit {
            resources: vec![connector_sdk::Resource::new(
                ResourceId::new("role", "1"),
                "R",
            )],
            grants: vec![Grant::new(
                EntitlementId::new(ResourceId::new("group", "1"), "member"),
                ResourceId::new("role", "1"),
            )],
            entitlements: vec![ent],
            ..PageCommit::default()
        };
        store.commit_page(run, crate::LEASE, &commit).unwrap();
        store.seal_run(run).unwrap();
        let (count, issues) = store.integrity_issues(run, 5).unwrap();
        assert_eq!(count, 1);
        assert_eq!(
            issues[0].to_string(),
            "grant `group:1:member:role:1`: the entitlement is not grantable to the principal's type"
        );
        let memory = MemoryStore::new();
        let run = crate::begin(&memory, "x");
        memory.commit_page(run, crate::LEASE, &commit).unwrap();
        assert_eq!(memory.integrity_issues(run, 5).unwrap(), (count, issues));
    }
);

#[tokio::test]
async fn list_pages_may_carry_resources_of_other_types() {
    use async_trait::async_trait;
    use connector_sdk::{
        ConnectorError, ConnectorMetadata, EntitlementId, Grant, ListRequest, Page, Registry,
        Resource, ResourceId, ResourceSyncer, ResourceTrait, ResourceType, SyncerOptions,
    };

    let c = || ConnectorMetadata::new("c", "C", "roles found in user rows");
    struct Users(&'static str);
    #[async_trait]
    impl ResourceSyncer for Users {
        fn resource_type(&self) -> ResourceType {
            ResourceType::new("user", "User", [ResourceTrait::User])
        }
        fn options(&self) -> SyncerOptions {
            SyncerOptions::list_only()
        }
        async fn list(&self, _r: ListRequest) -> Result<Page<Resource>, ConnectorError> {
            let role = ResourceId::new(self.0, "admin");
            Ok(
                Page::new(vec![Resource::new(ResourceId::new("user", "1"), "One")])
                    .with_resources([Resource::new(role.clone(), "Admin")])
                    .with_entitlements([crate::fixture::member_entitlement(role.clone())])
                    .with_grants([Grant::new(
                        EntitlementId::new(role, "member"),
                        ResourceId::new("user", "1"),
                    )]),
            )
        }
    }
    struct Roles;
    #[async_trait]
    impl ResourceSyncer for Roles {
        fn resource_type(&self) -> ResourceType {
            ResourceType::new("role", "Role", [ResourceTrait::Role])
        }
        fn options(&self) -> SyncerOptions {
            SyncerOptions::list_only()
        }
        async fn list(&self, _r: ListRequest) -> Result<Page<Resource>, ConnectorError> {
            Ok(Page::empty())
        }
    }
    let registry = Registry::builder(c(), FixedFingerprint("c"))
        .syncer(Users("role"))
        .syncer(Roles)
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let report = SyncEngine::new(registry, store.clone(), SyncConfig::default())
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        resource_ids(store.as_ref(), report.run),
        ["role:admin".to_owned(), "user:1".to_owned()].into()
    );
    assert_eq!(report.counts.total_grants(), 1);

    let registry = Registry::builder(c(), FixedFingerprint("c"))
        .syncer(Users("team"))
        .syncer(Roles)
        .build()
        .unwrap();
    let err = SyncEngine::new(
        registry,
        Arc::new(MemoryStore::new()),
        SyncConfig::default(),
    )
    .run(&CancellationToken::new())
    .await
    .unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(
        source,
        "resource `team:admin` has type `team`, which has no syncer"
    );
}

#[tokio::test]
async fn a_selection_of_resource_types_syncs_only_them_and_keeps_the_store_one_tenant() {
    // The bulk shape lists users with their group memberships on the same rows.
    let tenant = Tenant::new(Shape::bulk(11, 4, 3, 3));
    let store = Arc::new(MemoryStore::new());
    let selected: std::collections::BTreeSet<connector_sdk::ResourceTypeId> =
        ["user".into(), "group".into()].into();
    let config = SyncConfig::default()
        .with_retry(fast_retry())
        .with_resource_types(Some(selected));
    let report = SyncEngine::new(tenant.registry(), store.clone(), config)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    let types: Vec<String> = store
        .resource_types(report.run)
        .unwrap()
        .iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(types, ["group", "user"]);
    let expected_resources: std::collections::BTreeSet<String> = tenant
        .expected_resources()
        .into_iter()
        .filter(|r| r.starts_with("user:") || r.starts_with("group:"))
        .collect();
    assert_eq!(resource_ids(store.as_ref(), report.run), expected_resources);
    let expected_grants: std::collections::BTreeSet<String> = tenant
        .expected_grants()
        .into_iter()
        .filter(|g| g.starts_with("group:"))
        .collect();
    assert_eq!(grant_ids(store.as_ref(), report.run), expected_grants);
    let run = store.latest_run("synth").unwrap().unwrap();
    assert!(
        run.fingerprint.ends_with("|resource_types=group,user"),
        "{}",
        run.fingerprint
    );
    // A full sync of the same tenant afterwards is the same tenant: not refused.
    let full = engine(&tenant, store.clone(), 2)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        resource_ids(store.as_ref(), full.run),
        tenant.expected_resources()
    );
}
