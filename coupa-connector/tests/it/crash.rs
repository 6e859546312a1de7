//! Process death in the middle of a write: the write runs on a runtime of its own, which is shut
//! down (every task dropped, as when the process is killed) while Coupa holds the answer to
//! one request after another; a fresh connector on the same journal then repairs at start, and
//! the re-delivered request finishes. Every list is answered additively (only `[]` clears), so
//! every revoke is a clear-then-set.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_sdk::journal::{Intent, IntentDraft, Journal};
use connector_sdk::{Grant, Holder, Registry, RevokeOutcome, RevokeRequest, SqliteStore};
use coupa_sim::{
    AccessList, CoupaSim, Fault, FaultKind, ListWrite, Named, SimOptions, Tenant, user_list,
    user_list_mut,
};

use crate::connector;
use crate::provision::{ent, user};

const LISTS: [(AccessList, &str, i64); 4] = [
    (AccessList::Roles, "role", 100),
    (AccessList::UserGroups, "group", 200),
    (AccessList::AccountGroups, "account_group", 300),
    (AccessList::ContentGroups, "content_group", 400),
];

/// The fixture, with objects `base+4`, `base+6..=base+8` of `list`, held by user 1.
fn tenant(list: AccessList, base: i64) -> Tenant {
    let mut tenant = Tenant::fixture();
    for id in base + 4..=base + 8 {
        tenant
            .objects_mut(list)
            .insert(id, Named::new(id, &format!("object {id}")));
    }
    let held = user_list_mut(tenant.users.get_mut(&1).unwrap(), list);
    *held = [base + 4, base + 6, base + 7, base + 8].into();
    tenant
}

fn held(sim: &CoupaSim, list: AccessList) -> BTreeSet<i64> {
    user_list(&sim.tenant().users[&1], list).clone()
}

fn registry(sim: &CoupaSim, journal: &Path) -> Registry {
    connector(sim)
        .registry()
        .with_journal(Arc::new(SqliteStore::open(journal).unwrap()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Requests to user 1's record answered (or held) so far.
fn user_requests(sim: &CoupaSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path == "/api/users/1")
        .count()
}

/// Revokes `revoked` from user 1 in a process that dies while Coupa holds the answer to the
/// `kill_at`-th request to the user's record; `None` when the revoke finished first.
fn revoke_killed_at(
    outer: &tokio::runtime::Runtime,
    sim: &CoupaSim,
    journal: &Path,
    entitlement: connector_sdk::EntitlementId,
    kill_at: usize,
) -> Option<RevokeOutcome> {
    sim.inject(Fault::any_method(
        "/api/users/1",
        kill_at,
        FaultKind::Delay(Duration::from_secs(600)),
    ));
    let doomed = runtime();
    let registry = outer.block_on(async { registry(sim, journal) });
    let write = doomed.spawn(async move {
        registry
            .revoke(RevokeRequest::new(Grant::new(entitlement, user(1))))
            .await
    });
    let started = Instant::now();
    while user_requests(sim) < kill_at && !write.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no request {kill_at}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let finished = write.is_finished();
    let outcome = finished.then(|| doomed.block_on(write).unwrap().unwrap());
    doomed.shutdown_timeout(Duration::from_secs(5));
    outcome
}

#[test]
fn a_revoke_killed_after_any_request_leaves_the_user_no_less_than_asked() {
    let outer = runtime();
    for (list, type_id, base) in LISTS {
        let revoked = base + 4;
        let rest: BTreeSet<i64> = [base + 6, base + 7, base + 8].into();
        let entitlement = ent(type_id, &revoked.to_string());
        // Requests to the user's record: the read, the plain write Coupa answers by keeping the
        // id (so the list only grows), the clear, the set, the verifying read.
        for kill_at in 1..=5 {
            let case = format!("{type_id}, killed at request {kill_at}");
            let options =
                SimOptions::default().with_list_write(list, ListWrite::AdditiveUnlessEmpty);
            let sim = outer.block_on(CoupaSim::start_with(tenant(list, base), options));
            let dir = tempfile::tempdir().unwrap();
            let journal = dir.path().join("journal.db");
            let finished = revoke_killed_at(&outer, &sim, &journal, entitlement.clone(), kill_at);
            assert_eq!(finished, None, "{case}");
            let left = held(&sim, list);
            let expected_left = match kill_at {
                1 | 2 => [revoked].iter().chain(&rest).copied().collect(),
                3 => BTreeSet::new(),
                _ => rest.clone(),
            };
            assert_eq!(left, expected_left, "{case}: what the kill left");

            // The next process repairs before anything else.
            let next = outer.block_on(async { registry(&sim, &journal) });
            let report = outer.block_on(next.repair()).unwrap();
            assert!(
                report.failed.is_empty() && report.left_alone.is_empty(),
                "{case}"
            );
            let repaired: Vec<Vec<String>> = report
                .repaired
                .iter()
                .map(|(_, r)| r.restored.iter().map(ToString::to_string).collect())
                .collect();
            let expected_repairs: Vec<Vec<String>> = match kill_at {
                1 | 2 => vec![],
                3 => vec![rest.iter().map(|id| format!("{type_id}:{id}")).collect()],
                _ => vec![vec![]],
            };
            assert_eq!(repaired, expected_repairs, "{case}");
            if kill_at >= 3 {
                assert_eq!(held(&sim, list), rest, "{case}: after the repair");
            }
            let journal_store = SqliteStore::open(&journal).unwrap();
            assert_eq!(
                journal_store.open_intents("coupa").unwrap(),
                vec![],
                "{case}"
            );

            // The revoke, delivered again, finishes.
            let outcome = outer
                .block_on(next.revoke(RevokeRequest::new(Grant::new(entitlement.clone(), user(1)))))
                .unwrap();
            let expected = match kill_at {
                1 | 2 => RevokeOutcome::Revoked,
                _ => RevokeOutcome::AlreadyRevoked,
            };
            assert_eq!(outcome, expected, "{case}");
            assert_eq!(held(&sim, list), rest, "{case}: at the end");
        }
    }
}

/// An intent recorded just before the clear, by a process that died before the clear landed:
/// the repair must remove the id itself, with a journaled clear-then-set, and keep what was
/// added since.
#[tokio::test(flavor = "multi_thread")]
async fn a_repair_that_must_remove_the_id_clears_and_sets_and_keeps_later_grants() {
    let options =
        SimOptions::default().with_list_write(AccessList::Roles, ListWrite::AdditiveUnlessEmpty);
    let sim = CoupaSim::start_with(tenant(AccessList::Roles, 100), options).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    let store = SqliteStore::open(&journal).unwrap();
    let registry = registry(&sim, &journal);
    // Recorded by a process on another host that began 11 minutes ago: abandoned.
    let before =
        [104, 106, 107, 108].map(|id| connector_sdk::ResourceId::new("role", id.to_string()));
    let mut intent = Intent::new(
        "coupa",
        registry.fingerprint().encode(),
        IntentDraft::revoke(user(1), ent("role", "104"), "roles", before.to_vec()),
        Holder::new("elsewhere:1:0:0", 1, "another-host"),
    )
    .with_actor(Some("ConductorOne".into()));
    intent.started_at_ms -= 11 * 60 * 1000;
    store.record_intent(&intent).unwrap();
    // Someone granted role 1 since.
    sim.update_tenant(|t| {
        t.users.get_mut(&1).unwrap().roles.insert(1);
    });
    let report = registry.repair().await.unwrap();
    assert_eq!(report.repaired.len(), 1, "{report:?}");
    assert_eq!(report.repaired[0].1.restored, vec![]);
    assert_eq!(held(&sim, AccessList::Roles), [1, 106, 107, 108].into());
    assert_eq!(store.open_intents("coupa").unwrap(), vec![]);
    let puts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.status)
        .collect();
    // The plain write (kept the id), the clear, the set.
    assert_eq!(puts, vec![200, 200, 200]);
}

#[tokio::test(flavor = "multi_thread")]
async fn intents_of_another_tenant_or_a_live_writer_elsewhere_are_left_alone() {
    let sim = CoupaSim::start(tenant(AccessList::Roles, 100)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    let store = SqliteStore::open(&journal).unwrap();
    let registry = registry(&sim, &journal);
    let draft = IntentDraft::revoke(user(1), ent("role", "104"), "roles", vec![]);
    let other = Intent::new(
        "coupa",
        "coupa|https://other.coupahost.com|x|account_groups=true",
        draft.clone(),
        Holder::new("h:1:0:0", 1, "another-host"),
    );
    let live = Intent::new(
        "coupa",
        registry.fingerprint().encode(),
        draft,
        Holder::new("h:2:0:0", 2, "another-host"),
    );
    store.record_intent(&other).unwrap();
    store.record_intent(&live).unwrap();
    let report = registry.repair().await.unwrap();
    assert!(report.repaired.is_empty() && report.failed.is_empty());
    let reasons: Vec<&str> = report
        .left_alone
        .iter()
        .map(|l| l.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("it was recorded for another tenant"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("process 2 on another-host may still be running it"),
        "{reasons:?}"
    );
    assert_eq!(sim.count("PUT", "/api/users/1"), 0);
    // A write to that user waits for the live writer: refused, retryably, nothing written.
    let err = registry
        .revoke(RevokeRequest::new(Grant::new(ent("role", "106"), user(1))))
        .await
        .unwrap_err();
    assert!(
        connector_sdk::error_chain(&err).contains(
            "the interrupted revoke of role:104:member from user:1 is not finished: process 2 \
             on another-host may still be running it"
        ),
        "{err}"
    );
    assert_eq!(sim.count("PUT", "/api/users/1"), 0);
    assert_eq!(held(&sim, AccessList::Roles), [104, 106, 107, 108].into());
}

/// Coupa's rate limit answers the set of a clear-then-set with 429: the set waits and is sent
/// again, and the removal finishes instead of leaving the user without roles or restoring.
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_set_waits_and_the_removal_finishes() {
    let options =
        SimOptions::default().with_list_write(AccessList::Roles, ListWrite::AdditiveUnlessEmpty);
    let sim = CoupaSim::start_with(tenant(AccessList::Roles, 100), options).await;
    // Writes to user 1: the plain write, the clear, then the set, refused once.
    sim.inject(Fault::nth("PUT", "/api/users/1", 3, FaultKind::Status(429)));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    let registry = registry(&sim, &journal);
    let outcome = registry
        .revoke(RevokeRequest::new(Grant::new(ent("role", "104"), user(1))))
        .await
        .unwrap();
    assert_eq!(outcome, RevokeOutcome::Revoked);
    assert_eq!(held(&sim, AccessList::Roles), [106, 107, 108].into());
    let puts: Vec<u16> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.status)
        .collect();
    assert_eq!(puts, vec![200, 200, 429, 200]);
    let store = SqliteStore::open(&journal).unwrap();
    assert_eq!(store.open_intents("coupa").unwrap(), vec![]);
}
