//! A synced store, written as a `.c1z` and read back, gives exactly the run's records.

use std::collections::BTreeMap;

use c1z::{Reader, Writer};
use connector_sdk::{Entitlement, Grant, Resource, Store};
use coupa_sim::{Sizes, Tenant};

use crate::synced;

/// Every record of a run: types, and resources, entitlements and grants by id.
type Records = (
    Vec<connector_sdk::ResourceType>,
    BTreeMap<String, Resource>,
    BTreeMap<String, Entitlement>,
    BTreeMap<String, Grant>,
);

/// Every record of a run, from the store.
fn from_store(store: &dyn Store, run: connector_sdk::RunId) -> Records {
    let types = store.resource_types(run).unwrap();
    let mut resources = BTreeMap::new();
    for rt in &types {
        for r in store.resources(run, &rt.id).unwrap() {
            resources.insert(r.id.to_string(), r);
        }
    }
    let mut entitlements = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store.entitlements_page(run, after.as_ref(), 100).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        entitlements.extend(page.into_iter().map(|e| (e.id.to_string(), e)));
    }
    let mut grants = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store.grants_page(run, after.as_ref(), 100).unwrap();
        let Some(last) = page.last().cloned() else {
            break;
        };
        after = Some(last);
        grants.extend(page.into_iter().map(|g| (g.id().to_string(), g)));
    }
    (types, resources, entitlements, grants)
}

pub fn assert_round_trip(store: &dyn Store, run: connector_sdk::RunId, path: &std::path::Path) {
    let (types, resources, entitlements, grants) = from_store(store, run);
    let reader = Reader::open(path).unwrap();
    assert_eq!(reader.resource_types().unwrap(), types);
    let read: BTreeMap<String, Resource> = reader
        .resources()
        .map(|r| r.map(|r| (r.id.to_string(), r)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read.len(), resources.len());
    for (id, resource) in &resources {
        assert_eq!(read.get(id), Some(resource), "{id}");
    }
    let read: BTreeMap<String, Entitlement> = reader
        .entitlements()
        .map(|e| e.map(|e| (e.id.to_string(), e)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, entitlements);
    let read: BTreeMap<String, Grant> = reader
        .grants()
        .map(|g| g.map(|g| (g.id().to_string(), g)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, grants);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coupa_sync_round_trips_exactly() {
    for tenant in [Tenant::fixture(), Tenant::generate(31, Sizes::users(400))] {
        let (store, run) = synced(tenant).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coupa.c1z");
        let report = Writer::new().write(store.as_ref(), run, &path).unwrap();
        let counts = store.counts(run).unwrap();
        assert_eq!(report.resources, counts.total_resources());
        assert_eq!(report.entitlements, counts.total_entitlements());
        assert_eq!(report.grants, counts.total_grants());
        assert_eq!(report.syncs_kept, 1);
        assert_round_trip(store.as_ref(), run, &path);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn coupa_ids_are_baton_coupas() {
    let (store, run) = synced(Tenant::fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coupa.c1z");
    Writer::new().write(store.as_ref(), run, &path).unwrap();
    let reader = Reader::open(&path).unwrap();
    let resources: Vec<String> = reader
        .resources()
        .map(|r| r.unwrap().id.to_string())
        .collect();
    for id in [
        "user:1",
        "group:10",
        "role:3",
        "license:expense-user",
        "account_group:20",
        "content_group:31",
    ] {
        assert!(resources.contains(&id.to_owned()), "{id} in {resources:?}");
    }
    let grants: Vec<String> = reader
        .grants()
        .map(|g| g.unwrap().id().to_string())
        .collect();
    for id in [
        "group:10:member:user:1",
        "license:expense-user:assigned:user:2",
        "account_group:21:member:user:3",
    ] {
        assert!(grants.contains(&id.to_owned()), "{id}");
    }
    let ada = reader
        .resources()
        .map(Result::unwrap)
        .find(|r| r.id.to_string() == "user:1")
        .unwrap();
    let user = ada.user.unwrap();
    assert_eq!(user.login.as_deref(), Some("ada"));
    assert_eq!(user.emails[0].address, "ada@example.com");
    assert!(user.emails[0].primary);
    assert_eq!(ada.status, Some(connector_sdk::ResourceStatus::Enabled));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_tenant_writes_a_readable_file() {
    let (store, run) = synced(Tenant::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.c1z");
    let report = Writer::new().write(store.as_ref(), run, &path).unwrap();
    assert_eq!(
        (report.resources, report.grants),
        (19, 0),
        "the 19 licenses only"
    );
    assert_round_trip(store.as_ref(), run, &path);
}
