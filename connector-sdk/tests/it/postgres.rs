//! What only PostgreSQL does: many hosts on one store, many tenants in one database, migrations
//! applied once, and connection settings that never show a password.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use connector_sdk::backend::{BeginRun, WorkQueue};
use connector_sdk::{
    Error, Holder, PostgresStore, RetryPolicy, RunStatus, Store, StoreError, SyncConfig, SyncEngine,
};
use tokio_util::sync::CancellationToken;

use crate::backends::{database_url, fresh_schema, postgres_in};
use crate::fixture::{Shape, Tenant};
use crate::grant_ids;

fn config() -> SyncConfig {
    SyncConfig::default().with_workers(2).with_retry(
        RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    )
}

/// Two hosts on one store (two pools, as two processes would have): while one syncs, the other
/// is told who holds the run and starts nothing; when the first dies mid-sync (its sync
/// dropped: no release, no more heartbeats), the second takes the run over once the heartbeat
/// is stale and finishes it to the tenant's exact grants; both then read the same run.
#[tokio::test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn a_host_killed_mid_sync_is_taken_over_by_another() {
    let schema = fresh_schema();
    let (first, second) = (postgres_in(&schema), postgres_in(&schema));
    let tenant = Tenant::new(Shape {
        users: 60,
        groups: 6,
        page_size: 4,
        ..Shape::default()
    });
    *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(20));
    let ttl = Duration::from_secs(1);
    let dying = SyncEngine::new(
        tenant.registry(),
        first.store.clone(),
        config().with_lease_ttl(ttl),
    );
    let running = tokio::spawn(async move { dying.run(&CancellationToken::new()).await });
    while tenant.faults.calls.load(Ordering::SeqCst) < 6 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let other = SyncEngine::new(
        tenant.registry(),
        second.store.clone(),
        config().with_lease_ttl(ttl),
    );
    let err = other.run(&CancellationToken::new()).await.unwrap_err();
    assert!(matches!(err, Error::InProgress { .. }), "{err:?}");
    assert_eq!(second.store.runs().unwrap().len(), 1, "no second run");

    // The first host dies.
    running.abort();
    let _ = running.await;
    let killed = Instant::now();
    let report = loop {
        match other.run(&CancellationToken::new()).await {
            Ok(report) => break report,
            Err(Error::InProgress { .. }) if killed.elapsed() < 10 * ttl => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    let took = killed.elapsed();
    assert!(report.resumed, "the dead host's run was taken over");
    assert!(took < 3 * ttl, "took over after {took:?}");
    eprintln!("taken over {took:?} after the kill (lease {ttl:?})");
    assert_eq!(
        grant_ids(second.store.as_ref(), report.run),
        tenant.expected_grants()
    );
    assert_eq!(
        grant_ids(first.store.as_ref(), report.run),
        tenant.expected_grants(),
        "both hosts read the same run"
    );
    let runs = first.store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Completed);
    drop(first);
}

/// One database, many tenants: a sync of one tenant neither refuses, fails nor resumes another
/// tenant's run, and pruning keeps each tenant's newest runs; the same tenant with other
/// settings is still refused.
#[tokio::test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn tenants_share_a_database_without_touching_each_others_runs() {
    let backend = postgres_in(&fresh_schema());
    let store = backend.store.clone();
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
    let keep_one = config().with_keep_runs(std::num::NonZeroUsize::new(1));
    let sync = |tenant: &Tenant, name: &str, config: SyncConfig| {
        let engine = SyncEngine::new(tenant.registry_for(name), store.clone(), config);
        async move { engine.run(&CancellationToken::new()).await }
    };
    // Tenant A is interrupted mid-sync.
    *a.faults.fail_at.lock().unwrap() = Some(a.faults.calls.load(Ordering::SeqCst) + 5);
    sync(&a, "tenant-a", config()).await.unwrap_err();
    *a.faults.fail_at.lock().unwrap() = None;
    // Tenant B syncs twice into the same database: not refused, A's run untouched.
    let b1 = sync(&b, "tenant-b", keep_one.clone()).await.unwrap();
    let b2 = sync(&b, "tenant-b", keep_one.clone()).await.unwrap();
    assert!(!b1.resumed && !b2.resumed);
    assert!(
        b1.warnings.iter().all(|w| !w.contains("not resumed")),
        "{:?}",
        b1.warnings
    );
    assert_eq!(grant_ids(store.as_ref(), b2.run), b.expected_grants());
    let runs = store.runs().unwrap();
    let status: Vec<(i64, RunStatus)> = runs.iter().map(|r| (r.id.raw(), r.status)).collect();
    assert_eq!(
        status,
        [(1, RunStatus::Running), (3, RunStatus::Completed)],
        "B's first run pruned, A's unfinished run kept"
    );
    // Tenant A resumes its own run.
    let a1 = sync(&a, "tenant-a", keep_one.clone()).await.unwrap();
    assert!(a1.resumed);
    assert_eq!(a1.run.raw(), 1);
    assert_eq!(grant_ids(store.as_ref(), a1.run), a.expected_grants());
    assert_eq!(store.runs().unwrap().len(), 2, "one run of each tenant");
    // The same tenant under other settings is still refused, as in a file of one tenant.
    let settings = connector_sdk::Fingerprint::new("connector", "synth")
        .with("tenant", "tenant-b")
        .with("client_id", "other");
    let holder = Holder::new("elsewhere", 1, "elsewhere");
    let other = store
        .begin_run(&BeginRun::new("synth", &settings, &holder))
        .unwrap();
    store
        .finish_run(other.run, RunStatus::Completed, None)
        .unwrap();
    let err = sync(&b, "tenant-b", config()).await.unwrap_err();
    assert!(matches!(err, Error::OtherFingerprint { .. }), "{err:?}");
    sync(&a, "tenant-a", config()).await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn hosts_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let schema = fresh_schema();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let schema = schema.clone();
            std::thread::spawn(move || {
                PostgresStore::options(&database_url())
                    .unwrap()
                    .schema(schema)
                    .connect()
            })
        })
        .collect();
    let stores: Vec<PostgresStore> = starts
        .into_iter()
        .map(|s| s.join().unwrap().unwrap())
        .collect();
    let client = connect_plain().await;
    let rows = client
        .query(
            &format!("SELECT version, description FROM {schema}.store_migrations"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "applied once");
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    client
        .execute(
            &format!("INSERT INTO {schema}.store_migrations VALUES (99, 'from the future', 0)"),
            &[],
        )
        .await
        .unwrap();
    let err = PostgresStore::options(&database_url())
        .unwrap()
        .schema(schema.clone())
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::SchemaVersion { found, supported: "1" } if found == "99"),
        "{err:?}"
    );
    stores[0].drop_schema().unwrap();
}

/// A plain connection to the test database, for looking behind the store.
async fn connect_plain() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// A host may call the store from async code (as it may call SQLite): a thousand calls from
/// one task of a single-threaded runtime all return, whatever tokio's cooperative budget says.
#[test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
fn calls_from_async_code_never_wait_on_the_callers_runtime() {
    let backend = postgres_in(&fresh_schema());
    let store = backend.store.clone();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..1000 {
                assert!(store.runs().unwrap().is_empty());
            }
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the calls returned");
}

#[test]
fn a_password_is_never_shown() {
    let options = PostgresStore::options("postgres://sync:hunter2-secret@127.0.0.1:1/identity")
        .unwrap()
        .connect_timeout(Duration::from_secs(2));
    let shown = format!("{options:?}");
    assert!(shown.contains("sync@127.0.0.1:1/identity"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    // Nothing listens on port 1: the error says so without the password.
    let err = options.connect().unwrap_err();
    let chain = connector_sdk::error_chain(&err);
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(
        !chain.contains("hunter2") && !format!("{err:?}").contains("hunter2"),
        "{chain}"
    );
    // A URL that does not parse is not repeated either.
    let err =
        PostgresStore::options("postgres://sync:hunter2-secret@host:notaport/db").unwrap_err();
    assert!(
        !connector_sdk::error_chain(&err).contains("hunter2"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
fn a_second_holder_is_refused_until_the_lease_is_stale() {
    let backend = postgres_in(&fresh_schema());
    let fingerprint = connector_sdk::Fingerprint::new("tenant", "t");
    let (one, two) = (
        Holder::new("one", 1, "elsewhere"),
        Holder::new("two", 2, "elsewhere"),
    );
    let begun = backend
        .store
        .begin_run(&BeginRun::new("c", &fingerprint, &one))
        .unwrap();
    let err = backend
        .store
        .begin_run(&BeginRun::new("c", &fingerprint, &two))
        .unwrap_err();
    assert!(matches!(err, StoreError::InProgress { .. }), "{err:?}");
    std::thread::sleep(Duration::from_millis(20));
    let taken = backend
        .store
        .begin_run(
            &BeginRun::new("c", &fingerprint, &two).with_lease_ttl(Duration::from_millis(10)),
        )
        .unwrap();
    assert_eq!((taken.run, taken.resumed), (begun.run, true));
    let err = backend.store.heartbeat(begun.run, "one").unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    backend.store.heartbeat(begun.run, "two").unwrap();
    let _: &dyn WorkQueue = backend.store.as_ref();
}

/// A server that accepts connections and never answers: connecting gives up after the connect
/// timeout instead of waiting for ever.
#[test]
fn a_silent_server_fails_the_connection_in_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || listener.accept().map(|(socket, _)| socket));
    let began = Instant::now();
    let err = PostgresStore::options(&format!("postgres://sync@127.0.0.1:{port}/db"))
        .unwrap()
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    drop(held);
}

/// A statement the server cannot finish in time (here: a table locked by another session) is
/// cancelled by the server after the store's statement timeout, and the call fails.
#[tokio::test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn a_statement_past_its_timeout_fails_the_call() {
    let schema = fresh_schema();
    let backend = postgres_in(&schema);
    let store = PostgresStore::options(&database_url())
        .unwrap()
        .schema(schema.clone())
        .statement_timeout(Duration::from_secs(1))
        .connect()
        .unwrap();
    let mut locker = connect_plain().await;
    let tx = locker.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "LOCK TABLE {schema}.sync_runs IN ACCESS EXCLUSIVE MODE"
    ))
    .await
    .unwrap();
    let began = Instant::now();
    let err = store.runs().unwrap_err();
    let took = began.elapsed();
    assert!(
        connector_sdk::error_chain(&err).contains("statement timeout"),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    tx.rollback().await.unwrap();
    assert!(
        store.runs().unwrap().is_empty(),
        "answers again once the lock is gone"
    );
    drop(backend);
}

/// The grants of a run that failed before it was sealed are dropped with its failure (no query
/// reads them, no sync resumes it); a completed run keeps its partition.
#[tokio::test]
#[cfg_attr(
    no_test_database,
    ignore = "set TEST_DATABASE_URL to a PostgreSQL database to run"
)]
async fn a_run_that_failed_unsealed_leaves_no_grants_behind() {
    let schema = fresh_schema();
    let backend = postgres_in(&schema);
    let tenant = Tenant::new(Shape::default());
    *tenant.faults.fail_at.lock().unwrap() = Some(tenant.faults.calls.load(Ordering::SeqCst) + 5);
    SyncEngine::new(tenant.registry(), backend.store.clone(), config())
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    *tenant.faults.fail_at.lock().unwrap() = None;
    let client = connect_plain().await;
    let exists = |table: String| {
        let client = &client;
        async move {
            client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .await
                .unwrap()
                .get::<_, bool>(0)
        }
    };
    assert!(
        exists(format!("{schema}.grants_pending_1")).await,
        "kept while resumable"
    );
    // A fresh run: run 1 is failed, not resumed.
    SyncEngine::new(
        tenant.registry(),
        backend.store.clone(),
        config().with_resume(false),
    )
    .run(&CancellationToken::new())
    .await
    .unwrap();
    assert_eq!(backend.store.runs().unwrap()[0].status, RunStatus::Failed);
    assert!(!exists(format!("{schema}.grants_pending_1")).await);
    assert!(exists(format!("{schema}.grants_2")).await);
    assert!(!exists(format!("{schema}.grants_pending_2")).await);
}
