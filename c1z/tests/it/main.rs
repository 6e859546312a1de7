//! `.c1z` files of the SDK's fake connector: nothing here knows a real connector, so what any
//! connector's run needs from the writer and the reader is tested generically: round trips,
//! the database against baton's reference (`schema`), the blobs' bytes (`wire`) and files made
//! to hurt (`hostile`). (Coupa's runs and baton-coupa's ids are tested in coupa-connector.)

#![allow(missing_docs, unreachable_pub)]

mod files;
mod hostile;
mod live;
mod schema;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use c1z::{Reader, Writer};
use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{
    Entitlement, Grant, Resource, RunId, SqliteStore, Store, SyncConfig, SyncEngine,
};
use tokio_util::sync::CancellationToken;

/// A completed sync of `tenant` into a fresh store, its connector fingerprinted `name`.
pub async fn synced(tenant: &FakeTenant, name: &str) -> (Arc<SqliteStore>, RunId) {
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

/// A completed sync of the default fake tenant.
pub async fn fixture() -> (Arc<SqliteStore>, RunId) {
    synced(&FakeTenant::new(Shape::default()), "fake tenant").await
}

/// The file's bytes and its database, decompressed with the zstd crate directly.
pub fn open(path: &std::path::Path) -> (Vec<u8>, tempfile::TempDir, rusqlite::Connection) {
    let bytes = std::fs::read(path).unwrap();
    let db = zstd::stream::decode_all(&bytes[5..]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db.sqlite");
    std::fs::write(&file, &db).unwrap();
    let conn = rusqlite::Connection::open(&file).unwrap();
    (bytes, dir, conn)
}

/// `path`'s database, changed by `sql`, compressed again as `out`.
pub fn rewrite(path: &std::path::Path, out: &std::path::Path, sql: &str) {
    let (_, dir, conn) = open(path);
    conn.execute_batch(sql).unwrap();
    drop(conn);
    let db = std::fs::read(dir.path().join("db.sqlite")).unwrap();
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend(zstd::stream::encode_all(db.as_slice(), 3).unwrap());
    std::fs::write(out, bytes).unwrap();
}

type Records = (
    BTreeMap<String, Resource>,
    BTreeMap<String, Entitlement>,
    BTreeMap<String, Grant>,
);

/// Every resource, entitlement and grant of a run, by id.
pub fn in_store(store: &dyn Store, run: RunId) -> Records {
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

/// Every grant id of a run.
pub fn grant_ids(store: &dyn Store, run: RunId) -> std::collections::BTreeSet<String> {
    in_store(store, run).2.into_keys().collect()
}

/// The file at `path` holds exactly the run's resource types and records.
pub fn assert_round_trip(store: &dyn Store, run: RunId, path: &std::path::Path) {
    let reader = Reader::open(path).unwrap();
    assert_eq!(
        reader.resource_types().unwrap(),
        store.resource_types(run).unwrap()
    );
    assert_eq!(in_file(&reader), in_store(store, run));
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
