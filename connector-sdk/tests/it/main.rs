//! Integration tests of the SDK: engine, stores, registry, test kit.

#![allow(unreachable_pub, missing_docs)]

#[macro_use]
mod backends;
mod conformance;
mod engine;
mod fixture;
mod observer;
mod postgres;
mod registry;
mod runs;
mod store;

use std::collections::BTreeSet;

use connector_sdk::backend::{BeginRun, WorkQueue};
use connector_sdk::{Holder, RunId, Store};

/// The lease id of runs begun by [`begin`].
pub const LEASE: &str = "test-lease";

/// Begins a new run of `connector` on `store` held by [`LEASE`], for tests that drive a store
/// directly.
pub fn begin(store: &dyn WorkQueue, connector: &str) -> RunId {
    let holder = Holder::new(LEASE, std::process::id(), "test-host");
    store
        .begin_run(
            &BeginRun::new(
                connector,
                &connector_sdk::Fingerprint::new("tenant", ""),
                &holder,
            )
            .with_resume(false),
        )
        .unwrap()
        .run
}

/// Every row of a run, as sortable strings, read back through the public query API.
pub fn dump(store: &dyn Store, run: RunId) -> BTreeSet<String> {
    let mut rows = BTreeSet::new();
    for rt in store.resource_types(run).unwrap() {
        rows.insert(format!("type {}", serde_json::to_string(&rt).unwrap()));
        for r in store.resources(run, &rt.id).unwrap() {
            rows.insert(format!("resource {}", serde_json::to_string(&r).unwrap()));
            for e in store.entitlements(run, &r.id).unwrap() {
                rows.insert(format!(
                    "entitlement {}",
                    serde_json::to_string(&e).unwrap()
                ));
                for g in store.grants_for_entitlement(run, &e.id).unwrap() {
                    rows.insert(format!("grant {}", g.id()));
                }
            }
        }
    }
    rows
}

/// The grant ids of a run, read per principal.
pub fn grant_ids(store: &dyn Store, run: RunId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rt in store.resource_types(run).unwrap() {
        for r in store.resources(run, &rt.id).unwrap() {
            for g in store.grants_for_principal(run, &r.id).unwrap() {
                out.insert(g.id().to_string());
            }
        }
    }
    out
}

pub fn resource_ids(store: &dyn Store, run: RunId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rt in store.resource_types(run).unwrap() {
        for r in store.resources(run, &rt.id).unwrap() {
            out.insert(r.id.to_string());
        }
    }
    out
}
