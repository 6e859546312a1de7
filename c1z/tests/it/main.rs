//! `.c1z` files of the SDK's fake connector: nothing here knows a real connector, so what any
//! connector's run needs from the writer and the reader is tested generically. (Coupa runs,
//! baton-coupa's ids, the schema against baton's and hostile files are tested in coupa-connector's
//! own `c1z` tests.)

#![allow(missing_docs, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;

use c1z::{Error, Reader, Writer};
use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{
    Entitlement, Grant, Resource, RunId, SqliteStore, Store, SyncConfig, SyncEngine,
};
use tokio_util::sync::CancellationToken;

/// A completed sync of `tenant` into a fresh store, its connector fingerprinted `name`.
async fn synced(tenant: &FakeTenant, name: &str) -> (Arc<SqliteStore>, RunId) {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let report = SyncEngine::new(
        tenant.registry_for(name),
        store.clone(),
        SyncConfig::default().with_workers(4),
    )
    .run(&CancellationToken::new())
    .await
    .unwrap();
    (store, report.run)
}

type Records = (
    BTreeMap<String, Resource>,
    BTreeMap<String, Entitlement>,
    BTreeMap<String, Grant>,
);

/// Every resource, entitlement and grant of a run, by id.
fn in_store(store: &dyn Store, run: RunId) -> Records {
    let mut resources = BTreeMap::new();
    for rt in store.resource_types(run).unwrap() {
        for r in store.resources(run, &rt.id).unwrap() {
            resources.insert(r.id.to_string(), r);
        }
    }
    let mut entitlements = BTreeMap::new();
    let mut after = None;
    while let Some(last) = {
        let page = store.entitlements_page(run, after.as_ref(), 100).unwrap();
        let last = page.last().map(|e| e.id.clone());
        entitlements.extend(page.into_iter().map(|e| (e.id.to_string(), e)));
        last
    } {
        after = Some(last);
    }
    let mut grants = BTreeMap::new();
    let mut after = None;
    while let Some(last) = {
        let page = store.grants_page(run, after.as_ref(), 100).unwrap();
        let last = page.last().cloned();
        grants.extend(page.into_iter().map(|g| (g.id().to_string(), g)));
        last
    } {
        after = Some(last);
    }
    (resources, entitlements, grants)
}

/// Every resource, entitlement and grant of the file's newest sync, by id.
fn in_file(reader: &Reader) -> Records {
    (
        reader
            .resources()
            .map(|r| r.map(|r| (r.id.to_string(), r)))
            .collect::<Result<_, _>>()
            .unwrap(),
        reader
            .entitlements()
            .map(|e| e.map(|e| (e.id.to_string(), e)))
            .collect::<Result<_, _>>()
            .unwrap(),
        reader
            .grants()
            .map(|g| g.map(|g| (g.id().to_string(), g)))
            .collect::<Result<_, _>>()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn any_connectors_run_round_trips_exactly() {
    let tenant = FakeTenant::new(Shape {
        users: 120,
        groups: 11,
        page_size: 7,
        ..Shape::default()
    });
    let (store, run) = synced(&tenant, "tenant a").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.c1z");
    let report = Writer::new().write(store.as_ref(), run, &path).unwrap();
    let counts = store.counts(run).unwrap();
    assert_eq!(
        (report.resources, report.entitlements, report.grants),
        (
            counts.total_resources(),
            counts.total_entitlements(),
            counts.total_grants()
        )
    );
    let reader = Reader::open(&path).unwrap();
    assert_eq!(
        reader.resource_types().unwrap(),
        store.resource_types(run).unwrap()
    );
    let (resources, entitlements, grants) = in_file(&reader);
    assert_eq!(
        (resources, entitlements, grants.clone()),
        in_store(store.as_ref(), run)
    );
    let ids: std::collections::BTreeSet<String> = grants.into_keys().collect();
    assert_eq!(ids, tenant.expected_grants());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_keeps_the_previous_sync_of_its_tenant_and_refuses_another() {
    let tenant = FakeTenant::new(Shape::default());
    let (first, first_run) = synced(&tenant, "tenant a").await;
    tenant.faults.added.lock().unwrap().insert((1, 1));
    let (second, second_run) = synced(&tenant, "tenant a").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.c1z");
    let older = Writer::new()
        .write(first.as_ref(), first_run, &path)
        .unwrap();
    let newer = Writer::new()
        .write(second.as_ref(), second_run, &path)
        .unwrap();
    assert_eq!(newer.syncs_kept, 2);
    let reader = Reader::open(&path).unwrap();
    assert_eq!(reader.sync().sync_id, newer.sync_id);
    assert_eq!(in_file(&reader), in_store(second.as_ref(), second_run));
    let reader = Reader::open_at(&path, Some(&older.sync_id)).unwrap();
    assert_eq!(in_file(&reader), in_store(first.as_ref(), first_run));

    let (other, other_run) = synced(&tenant, "tenant b").await;
    let before = std::fs::read(&path).unwrap();
    let err = Writer::new()
        .write(other.as_ref(), other_run, &path)
        .unwrap_err();
    assert!(matches!(err, Error::OtherFingerprint { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// A `.c1z` holds identities: a new one is readable by its owner only, whatever the umask; a
/// file an operator made readable by others keeps its permissions when a sync is added to it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_new_file_is_private_and_a_shared_one_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tenant = FakeTenant::new(Shape::default());
    let (store, run) = synced(&tenant, "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    Writer::new().write(store.as_ref(), run, &file).unwrap();
    assert_eq!(mode(&file), 0o600);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    Writer::new().write(store.as_ref(), run, &file).unwrap();
    assert_eq!(mode(&file), 0o644);
}
