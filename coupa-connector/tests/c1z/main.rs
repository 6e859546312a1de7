//! The `.c1z` writer and reader on Coupa's runs: round trips and baton-coupa's ids. (The
//! format, the blobs' bytes, syncs kept, other tenants' files, older writers' files and hostile
//! files are tested generically in the c1z crate, on the SDK's fake.)

#![allow(missing_docs, unreachable_pub)]

mod roundtrip;

use std::sync::Arc;

use connector_sdk::{RunId, SqliteStore, SyncConfig, SyncEngine};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use coupa_sim::{CoupaSim, Tenant};
use tokio_util::sync::CancellationToken;

/// A completed sync of `tenant` (simulated) in a fresh SQLite store.
pub async fn synced(tenant: Tenant) -> (Arc<SqliteStore>, RunId) {
    let sim = CoupaSim::start(tenant).await;
    let config =
        coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret())
            .unwrap();
    let connector =
        CoupaConnector::new(ConnectorConfig::new(config).with_tenant("the test tenant")).unwrap();
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
