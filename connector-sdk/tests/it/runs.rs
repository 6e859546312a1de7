//! Which run a sync continues: fingerprints, age, fresh runs, failed runs, and leases.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use connector_sdk::backend::{BeginRun, WorkQueue};
use connector_sdk::{
    Error, ErrorKind, Holder, MemoryStore, RetryPolicy, RunStatus, SqliteStore, SyncConfig,
    SyncEngine,
};
use tokio_util::sync::CancellationToken;

use crate::backends::Backend;
use crate::fixture::{Shape, Tenant};
use crate::grant_ids;

fn config() -> SyncConfig {
    SyncConfig::default().with_workers(2).with_retry(
        RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    )
}

fn engine(
    registry: connector_sdk::Registry,
    store: Arc<dyn WorkQueue>,
    config: SyncConfig,
) -> SyncEngine {
    SyncEngine::new(registry, store, config)
}

/// Interrupts a sync of `tenant` as `fingerprint` at its fifth call, leaving an unfinished run.
async fn interrupted(tenant: &Tenant, store: &Arc<dyn WorkQueue>, fingerprint: &str) {
    let calls = tenant.faults.calls.load(Ordering::SeqCst);
    *tenant.faults.fail_at.lock().unwrap() = Some(calls + 5);
    let err = engine(tenant.registry_for(fingerprint), store.clone(), config())
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Connector { source, .. } if source.kind() == ErrorKind::RetriedByConnector),
        "{err:?}"
    );
    assert_eq!(
        store.runs().unwrap().last().unwrap().status,
        RunStatus::Running
    );
    *tenant.faults.fail_at.lock().unwrap() = None;
}

#[tokio::test]
async fn a_run_of_another_tenant_is_not_resumed() {
    let a = Tenant::new(Shape {
        users: 30,
        groups: 6,
        page_size: 4,
        ..Shape::default()
    });
    let b = Tenant::new(Shape {
        users: 9,
        groups: 2,
        page_size: 4,
        ..Shape::default()
    });
    let store: Arc<dyn WorkQueue> = Arc::new(SqliteStore::in_memory().unwrap());
    interrupted(&a, &store, "tenant-a").await;
    let report = engine(b.registry_for("tenant-b"), store.clone(), config())
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(!report.resumed);
    assert_eq!(
        report.warnings.last().map(String::as_str),
        Some(
            "run 1 was not resumed: it synced something else (fingerprint \
             \"connector=synth|tenant=tenant-a\", now \"connector=synth|tenant=tenant-b\")"
        )
    );
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        b.expected_grants(),
        "only tenant B"
    );
    let runs = store.runs().unwrap();
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert!(
        runs[0]
            .failure
            .as_deref()
            .unwrap()
            .contains("it synced something else")
    );
    assert_eq!(runs[1].fingerprint, "connector=synth|tenant=tenant-b");
}

every_store!(
    the_same_tenant_resumes_and_a_fresh_run_or_an_old_one_does_not,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        interrupted(&tenant, &store, "t").await;
        let report = engine(tenant.registry_for("t"), store.clone(), config())
            .run(&CancellationToken::new())
            .await
            .unwrap();
        assert!(report.resumed);

        interrupted(&tenant, &store, "t").await;
        let fresh = config().with_resume(false);
        let why = started_anew(&tenant, &store, fresh).await;
        assert!(why.ends_with("a fresh run was asked for"), "{why}");

        interrupted(&tenant, &store, "t").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let old = config().with_max_resume_age(Duration::from_millis(10));
        let why = started_anew(&tenant, &store, old).await;
        assert!(why.contains("it started more than"), "{why}");
    }
);

/// Syncs `tenant` with `config` after an interruption, checks that a new run did all the work,
/// and returns the last warning (why the interrupted run was not resumed).
async fn started_anew(tenant: &Tenant, store: &Arc<dyn WorkQueue>, config: SyncConfig) -> String {
    let report = engine(tenant.registry_for("t"), store.clone(), config)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(!report.resumed);
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
    report.warnings.last().cloned().unwrap_or_default()
}

every_store!(
    a_fatal_error_fails_the_run_for_good,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        *tenant.faults.fatal_at.lock().unwrap() = Some(3);
        let err = engine(tenant.registry(), store.clone(), config())
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connector { .. }), "{err:?}");
        let run = &store.runs().unwrap()[0];
        assert_eq!(run.status, RunStatus::Failed);
        let failure = run.failure.as_deref().unwrap();
        assert!(
            failure.starts_with("sync failed in the resources stage, resource type `")
                && failure.ends_with("`: broken at call 3"),
            "{failure}"
        );
        assert_eq!(run.holder, None);
        *tenant.faults.fatal_at.lock().unwrap() = None;
        let report = engine(tenant.registry(), store.clone(), config())
            .run(&CancellationToken::new())
            .await
            .unwrap();
        assert!(!report.resumed, "a failed run is never resumed");
        assert_eq!(store.runs().unwrap().len(), 2);
    }
);

every_store!(
    a_second_engine_on_a_held_run_is_told_who_holds_it,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(30));
        let store = backend.store.clone();
        let first = engine(tenant.registry(), store.clone(), config());
        let running = tokio::spawn(async move { first.run(&CancellationToken::new()).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let calls = tenant.faults.calls.load(Ordering::SeqCst);
        let err = engine(tenant.registry(), store.clone(), config())
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        let Error::InProgress {
            run,
            holder,
            heartbeat_age,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(run.raw(), 1);
        assert_eq!(holder.pid, std::process::id());
        assert!(*heartbeat_age < Duration::from_secs(60));
        assert!(
            err.to_string().starts_with(&format!(
                "sync already in progress: run 1 is held by process {} on ",
                std::process::id()
            )),
            "{err}"
        );
        let report = running.await.unwrap().unwrap();
        assert!(!report.resumed);
        assert_eq!(
            grant_ids(store.as_ref(), report.run),
            tenant.expected_grants()
        );
        assert!(
            tenant.faults.calls.load(Ordering::SeqCst) > calls,
            "the first engine carried on undisturbed"
        );
        assert_eq!(store.runs().unwrap().len(), 1);
    }
);

every_store!(
    a_stale_lease_is_taken_over_and_its_old_holder_stops,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(30));
        let store = backend.store.clone();
        let slow = config().with_lease_ttl(Duration::from_secs(60));
        let first = engine(tenant.registry(), store.clone(), slow);
        let running = tokio::spawn(async move { first.run(&CancellationToken::new()).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Another engine whose idea of "stale" is 1 ms takes the run over.
        let thief = Holder::new("elsewhere:1:1", 1, "elsewhere");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let begun = store
            .begin_run(
                &BeginRun::new("synth", &tenant.registry().fingerprint(), &thief)
                    .with_lease_ttl(Duration::from_millis(1)),
            )
            .unwrap();
        assert!(begun.resumed);
        let err = running.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
        let run = &store.runs().unwrap()[0];
        assert_eq!(
            run.holder.as_ref(),
            Some(&thief),
            "the old holder let go without writing"
        );
        assert_eq!(run.status, RunStatus::Running);
    }
);

every_store!(
    a_lease_left_before_a_restart_with_the_same_pid_is_taken_over_at_once,
    |backend: Backend| async move {
        // A restarted container: the same host name and the same pid (here: this process's), but
        // another process. Its lease must not look alive.
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        interrupted(&tenant, &store, "fake").await;
        let me = Holder::current();
        assert!(
            me.process.is_some(),
            "this platform tells a process's start"
        );
        let mut before_restart = Holder::new("before-restart", me.pid, me.host.clone());
        before_restart.process = Some("another-boot/1".into());
        assert_taken_over(&tenant, &store, &before_restart).await;
    }
);

/// `holder` takes the interrupted run of `tenant` in `store`; a sync then takes it over at once
/// and resumes it to the tenant's exact grants.
async fn assert_taken_over(tenant: &Tenant, store: &Arc<dyn WorkQueue>, holder: &Holder) {
    store
        .begin_run(&BeginRun::new(
            "synth",
            &tenant.registry().fingerprint(),
            holder,
        ))
        .unwrap();
    let report = engine(tenant.registry(), store.clone(), config())
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert!(report.resumed);
    assert_eq!(
        grant_ids(store.as_ref(), report.run),
        tenant.expected_grants()
    );
}

every_store!(
    a_lease_of_a_live_process_on_this_host_is_respected,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        interrupted(&tenant, &store, "fake").await;
        let mut other = Holder::current();
        other.id = "another engine of this process".into();
        store
            .begin_run(&BeginRun::new(
                "synth",
                &tenant.registry().fingerprint(),
                &other,
            ))
            .unwrap();
        let err = engine(tenant.registry(), store.clone(), config())
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InProgress { .. }), "{err}");
    }
);

every_store!(
    a_lease_left_by_a_dead_process_on_this_host_is_taken_over_at_once,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        interrupted(&tenant, &store, "fake").await;
        let me = Holder::current();
        let dead = Holder::new("dead", u32::MAX - 1, me.host.clone());
        assert_taken_over(&tenant, &store, &dead).await;
    }
);

#[tokio::test]
async fn completed_runs_past_the_newest_two_are_pruned_and_the_file_stops_growing() {
    let tenant = Tenant::new(Shape::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let size = || {
        ["", "-wal"]
            .iter()
            .map(|suffix| {
                std::fs::metadata(format!("{}{suffix}", path.display())).map_or(0, |m| m.len())
            })
            .sum::<u64>()
    };
    let mut sizes = Vec::new();
    let keep_two = config().with_keep_runs(std::num::NonZeroUsize::new(2));
    for _ in 0..8 {
        engine(tenant.registry(), store.clone(), keep_two.clone())
            .run(&CancellationToken::new())
            .await
            .unwrap();
        sizes.push(size());
    }
    let runs = connector_sdk::Store::runs(store.as_ref()).unwrap();
    let ids: Vec<String> = runs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["7", "8"]);
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
    // The file and its write-ahead log stop growing once the log has reached its working size
    // (each run adds about 0.9 MB here without pruning).
    assert!(sizes[5..].iter().all(|s| *s <= sizes[4]), "{sizes:?}");

    // Every run is kept by default.
    engine(tenant.registry(), store.clone(), config())
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(connector_sdk::Store::runs(store.as_ref()).unwrap().len(), 3);
}

every_store!(
    pruning_keeps_unfinished_runs_and_failures_since_the_last_success,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        let keep_all = config();
        let sync = |config: SyncConfig| {
            let (registry, store) = (tenant.registry(), store.clone());
            async move {
                engine(registry, store, config)
                    .run(&CancellationToken::new())
                    .await
            }
        };
        sync(keep_all.clone()).await.unwrap(); // 1 completed
        interrupted(&tenant, &store, "fake").await; // 2 running
        sync(keep_all.clone().with_resume(false)).await.unwrap(); // 2 failed (not resumed), 3 completed
        interrupted(&tenant, &store, "fake").await; // 4 running, then failed by 5
        sync(keep_all.clone().with_resume(false)).await.unwrap(); // 5 completed
        interrupted(&tenant, &store, "fake").await; // 6 running
        let statuses = |store: &Arc<dyn WorkQueue>| -> Vec<(String, RunStatus)> {
            store
                .runs()
                .unwrap()
                .iter()
                .map(|r| (r.id.to_string(), r.status))
                .collect()
        };
        use RunStatus::{Completed, Failed, Running};
        let s = |id: &str, status| (id.to_owned(), status);
        assert_eq!(
            statuses(&store),
            [
                s("1", Completed),
                s("2", Failed),
                s("3", Completed),
                s("4", Failed),
                s("5", Completed),
                s("6", Running)
            ]
        );
        let pruned = store
            .prune("synth", None, std::num::NonZeroUsize::new(1).unwrap())
            .unwrap();
        let pruned: Vec<String> = pruned.iter().map(ToString::to_string).collect();
        assert_eq!(pruned, ["1", "2", "3", "4"]);
        assert_eq!(statuses(&store), [s("5", Completed), s("6", Running)]);
    }
);

#[tokio::test]
async fn a_full_store_is_a_typed_error() {
    let tenant = Tenant::new(Shape::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("sync.db")).unwrap());
    store.set_max_size(48 * 1024).unwrap();
    let err = engine(tenant.registry(), store.clone(), config())
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(connector_sdk::StoreError::Full(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_store_of_another_tenant_is_refused_unless_asked() {
    let tenant = Tenant::new(Shape::default());
    let store: Arc<dyn WorkQueue> = Arc::new(MemoryStore::new());
    let sync = |fingerprint: &'static str, config: SyncConfig| {
        let (registry, store) = (tenant.registry_for(fingerprint), store.clone());
        async move {
            engine(registry, store, config)
                .run(&CancellationToken::new())
                .await
        }
    };
    sync("tenant-a", config()).await.unwrap();
    let err = sync("tenant-b", config()).await.unwrap_err();
    let Error::OtherFingerprint {
        run,
        stored,
        current,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(run.to_string(), "1");
    assert!(
        stored.ends_with("tenant-a") && current.ends_with("tenant-b"),
        "{err}"
    );
    assert_eq!(store.runs().unwrap().len(), 1, "nothing was begun");
    let report = sync("tenant-b", config().with_fingerprint_change(true))
        .await
        .unwrap();
    assert_eq!(report.run.to_string(), "2");
    // From then on the store is tenant B's.
    assert!(matches!(
        sync("tenant-a", config()).await.unwrap_err(),
        Error::OtherFingerprint { .. }
    ));
}
