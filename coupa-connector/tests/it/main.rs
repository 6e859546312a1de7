//! The Coupa connector against coupa-sim.

#![allow(missing_docs, unreachable_pub)]

mod crash;
mod provision;
mod sync;
mod write_safety;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use connector_sdk::backend::WorkQueue;
use connector_sdk::{MemoryStore, RetryPolicy, RunId, SyncConfig, SyncEngine, SyncReport};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use coupa_sim::{AccessList, CoupaSim, Tenant};
use tokio_util::sync::CancellationToken;

pub fn client_config(sim: &CoupaSim) -> coupa_client::Config {
    coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret()).unwrap()
}

pub fn connector(sim: &CoupaSim) -> CoupaConnector {
    CoupaConnector::new(ConnectorConfig::new(client_config(sim))).unwrap()
}

pub fn engine(connector: &CoupaConnector, store: Arc<dyn WorkQueue>, workers: usize) -> SyncEngine {
    let config = SyncConfig::default().with_workers(workers).with_retry(
        RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(50)),
    );
    SyncEngine::new(connector.registry(), store, config)
}

pub async fn sync(connector: &CoupaConnector, workers: usize) -> (Arc<MemoryStore>, SyncReport) {
    let store = Arc::new(MemoryStore::new());
    let report = engine(connector, store.clone(), workers)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    (store, report)
}

/// Every grant id of a run.
pub fn grants(store: &MemoryStore, run: RunId) -> BTreeSet<String> {
    store
        .all_grants(run)
        .unwrap()
        .iter()
        .map(|g| g.id().to_string())
        .collect()
}

/// The grants the tenant's ground truth implies.
pub fn expected_grants(tenant: &Tenant, account_groups: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (list, resource_type) in [
        (AccessList::Roles, "role"),
        (AccessList::UserGroups, "group"),
        (AccessList::ContentGroups, "content_group"),
        (AccessList::AccountGroups, "account_group"),
    ] {
        if list == AccessList::AccountGroups && !account_groups {
            continue;
        }
        for (user, object) in tenant.memberships(list, |_| true) {
            out.insert(format!("{resource_type}:{object}:member:user:{user}"));
        }
    }
    for (user, license) in tenant.license_holders(|_| true) {
        out.insert(format!("license:{license}:assigned:user:{user}"));
    }
    for (user, group) in tenant.memberships(AccessList::ApprovalGroups, |_| true) {
        out.insert(format!("group:{group}:approver:user:{user}"));
    }
    out
}

/// Resource ids per type.
pub fn resources(store: &MemoryStore, run: RunId) -> BTreeSet<String> {
    store
        .all_resources(run)
        .unwrap()
        .iter()
        .map(|r| r.id.to_string())
        .collect()
}

pub fn expected_resources(tenant: &Tenant, account_groups: bool) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = tenant.users.keys().map(|id| format!("user:{id}")).collect();
    out.extend(tenant.user_groups.keys().map(|id| format!("group:{id}")));
    out.extend(tenant.roles.keys().map(|id| format!("role:{id}")));
    out.extend(
        tenant
            .content_groups
            .keys()
            .map(|id| format!("content_group:{id}")),
    );
    if account_groups {
        out.extend(
            tenant
                .account_groups
                .keys()
                .map(|id| format!("account_group:{id}")),
        );
    }
    out.extend(
        coupa_sim::LICENSE_KEYS
            .iter()
            .map(|k| format!("license:{k}")),
    );
    out
}

/// Asserts that a sync stopped because Coupa stayed unavailable past the client's retries.
pub fn assert_unavailable(err: &connector_sdk::Error) {
    assert!(
        matches!(&err, connector_sdk::Error::Connector { source, .. } if source.kind() == connector_sdk::ErrorKind::RetriedByConnector),
        "{err}"
    );
}
