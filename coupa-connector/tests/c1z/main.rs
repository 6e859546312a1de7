//! The `.c1z` writer and reader: round trips, the schema inside, the bytes of the blobs, syncs
//! kept, and every kind of bad file.

#![allow(missing_docs, unreachable_pub)]

mod files;
mod hostile;
mod roundtrip;
mod schema;
mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;

use connector_sdk::{RunId, SqliteStore, Store, SyncConfig, SyncEngine};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use coupa_sim::{CoupaSim, Tenant};
use tokio_util::sync::CancellationToken;

/// A completed sync of `tenant` (simulated) in a fresh SQLite store. Every such sync is of one
/// tenant, named "the test tenant", whatever its rows: two of them are two states of one tenant.
pub async fn synced(tenant: Tenant) -> (Arc<SqliteStore>, RunId) {
    synced_as(tenant, "the test tenant").await
}

/// A completed sync of `tenant` (simulated), its tenant named `name` in the fingerprint.
pub async fn synced_as(tenant: Tenant, name: &str) -> (Arc<SqliteStore>, RunId) {
    let sim = CoupaSim::start(tenant).await;
    let config =
        coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret())
            .unwrap();
    let connector = CoupaConnector::new(ConnectorConfig::new(config).with_tenant(name)).unwrap();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let report = SyncEngine::new(
        connector.registry(),
        store.clone(),
        SyncConfig::default().with_workers(4),
    )
    .run(&CancellationToken::new())
    .await
    .unwrap();
    (store, report.run)
}

/// Every grant id of a run.
pub fn grant_ids(store: &dyn Store, run: RunId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut after = None;
    loop {
        let page = store.grants_page(run, after.as_ref(), 500).unwrap();
        let Some(last) = page.last().cloned() else {
            return out;
        };
        out.extend(page.iter().map(|g| g.id().to_string()));
        after = Some(last);
    }
}

/// An error and its sources, as one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
