use std::sync::Arc;

use connector_sdk::backend::WorkQueue;
use connector_sdk::{MemoryStore, SqliteStore, Store, StoreError, SyncConfig, SyncEngine};
use tokio_util::sync::CancellationToken;

use crate::backends::Backend;
use crate::fixture::{Shape, Tenant};

async fn diff_between_two_syncs(store: Arc<dyn WorkQueue>) {
    let tenant = Tenant::new(Shape {
        users: 6,
        groups: 2,
        page_size: 4,
        ..Shape::default()
    });
    let engine = SyncEngine::new(tenant.registry(), store.clone(), SyncConfig::default());
    let first = engine.run(&CancellationToken::new()).await.unwrap().run;
    // user 1 leaves group 2, user 2 joins group 2.
    assert!(tenant.is_member(2, 1));
    tenant.faults.removed.lock().unwrap().insert((2, 1));
    tenant.faults.added.lock().unwrap().insert((2, 2));
    let second = engine.run(&CancellationToken::new()).await.unwrap().run;
    assert_ne!(first, second);

    let diff = store.diff(first, second).unwrap();
    let added: Vec<String> = diff.added_grants.iter().map(ToString::to_string).collect();
    let removed: Vec<String> = diff
        .removed_grants
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(added, ["group:2:member:user:2"]);
    assert_eq!(removed, ["group:2:member:user:1"]);
    assert!(diff.added_resources.is_empty() && diff.removed_resources.is_empty());
    assert!(diff.added_entitlements.is_empty() && diff.removed_entitlements.is_empty());
    assert!(store.diff(first, first).unwrap().is_empty());

    // A bigger tenant adds users and a group with its entitlement.
    let bigger = Tenant::new(Shape {
        users: 7,
        groups: 3,
        page_size: 4,
        ..Shape::default()
    });
    let engine = SyncEngine::new(bigger.registry(), store.clone(), SyncConfig::default());
    let third = engine.run(&CancellationToken::new()).await.unwrap().run;
    let diff = store.diff(first, third).unwrap();
    let added: Vec<String> = diff
        .added_resources
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(added, ["group:3", "user:7"]);
    let added: Vec<String> = diff
        .added_entitlements
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(added, ["group:3:member"]);
    let added: Vec<String> = diff.added_grants.iter().map(ToString::to_string).collect();
    assert_eq!(
        added,
        [
            "group:2:member:user:7",
            "group:3:member:user:3",
            "group:3:member:user:6",
            "role:2:member:user:7"
        ]
    );
    let reverse = store.diff(third, first).unwrap();
    assert_eq!(reverse.removed_resources, diff.added_resources);
    assert_eq!(reverse.removed_grants, diff.added_grants);
    assert_eq!(store.runs().unwrap().len(), 3);
}

every_store!(diff, |backend: Backend| async move {
    diff_between_two_syncs(backend.store.clone()).await;
});

every_store!(
    answers_queries_like_the_memory_store,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        let store = backend.store.clone();
        let memory = Arc::new(MemoryStore::new());
        let a = SyncEngine::new(tenant.registry(), store.clone(), SyncConfig::default())
            .run(&CancellationToken::new())
            .await
            .unwrap();
        let b = SyncEngine::new(tenant.registry(), memory.clone(), SyncConfig::default())
            .run(&CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            crate::dump(store.as_ref(), a.run),
            crate::dump(memory.as_ref(), b.run)
        );
        assert_eq!(a.counts, b.counts);
        assert_eq!(store.counts(a.run).unwrap(), b.counts);
        let user = connector_sdk::ResourceId::new("user", "3");
        let via_store = store.grants_for_principal(a.run, &user).unwrap();
        let via_memory = memory.grants_for_principal(b.run, &user).unwrap();
        assert_eq!(via_store, via_memory);
        let ids: Vec<String> = via_store
            .iter()
            .map(|g| g.entitlement.to_string())
            .collect();
        assert_eq!(ids, ["group:3:member", "role:2:member"]);
        assert_eq!(store.integrity_issues(a.run, 10).unwrap(), (0, vec![]));
        assert_eq!(
            store.latest_run("synth").unwrap().map(|r| r.id),
            Some(a.run)
        );
    }
);

every_store!(
    unknown_runs_are_typed_errors,
    |backend: Backend| async move {
        let err = backend
            .store
            .counts(connector_sdk::RunId::from_raw(42))
            .unwrap_err();
        assert_eq!(err.to_string(), "no sync run 42");
        let err = backend
            .store
            .delete_run(connector_sdk::RunId::from_raw(42))
            .unwrap_err();
        assert!(matches!(err, StoreError::UnknownRun(_)), "{err:?}");
    }
);

#[test]
fn a_backend_failure_keeps_the_backends_error_as_its_source() {
    let dir = tempfile::tempdir().unwrap();
    // A directory is not a database file.
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert_eq!(err.to_string(), "store backend failed");
    let source = std::error::Error::source(&err).expect("a source");
    assert!(
        source.downcast_ref::<rusqlite::Error>().is_some(),
        "{source:?}"
    );
}

#[test]
fn stored_json_that_does_not_decode_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).unwrap();
    crate::begin(&store, "c");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE sync_runs SET holder = 'not json'", [])
        .unwrap();
    let err = store.runs().unwrap_err();
    let StoreError::Corrupt(what) = &err else {
        panic!("expected corruption, got {err:?}");
    };
    assert!(what.starts_with("stored JSON: "), "{what}");
}

#[test]
fn run_ids_are_shown_parsed_and_serialised_as_numbers() {
    let run: connector_sdk::RunId = "17".parse().unwrap();
    assert_eq!(run.to_string(), "17");
    assert_eq!(serde_json::to_string(&run).unwrap(), "17");
    assert_eq!(
        serde_json::from_str::<connector_sdk::RunId>("17").unwrap(),
        run
    );
    assert!("run 17".parse::<connector_sdk::RunId>().is_err());
}

#[test]
fn the_sqlite_file_is_queryable_with_plain_sql() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let tenant = Tenant::new(Shape::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        SyncEngine::new(tenant.registry(), store, SyncConfig::default())
            .run(&CancellationToken::new())
            .await
            .unwrap();
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    let members: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM grants WHERE entitlement_type = 'group' AND entitlement_id = '3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(members as usize, tenant.members(3).len());
    let login: String = conn
        .query_row(
            "SELECT login FROM resources WHERE resource_type = 'user' AND resource_id = '7'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(login, "u7");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

mod diff_properties {
    use std::collections::BTreeSet;

    use connector_sdk::backend::{PageCommit, WorkQueue};
    use connector_sdk::{
        EntitlementId, Grant, MemoryStore, Resource, ResourceId, RunStatus, SqliteStore,
    };
    use proptest::prelude::*;

    fn commit(grants: &BTreeSet<(u8, u8)>, users: &BTreeSet<u8>) -> PageCommit {
        PageCommit {
            resources: users
                .iter()
                .map(|u| Resource::new(ResourceId::new("user", u.to_string()), "u"))
                .collect(),
            grants: grants
                .iter()
                .map(|(g, u)| {
                    Grant::new(
                        EntitlementId::new(ResourceId::new("group", g.to_string()), "member"),
                        ResourceId::new("user", u.to_string()),
                    )
                })
                .collect(),
            ..PageCommit::default()
        }
    }

    fn run(
        store: &dyn WorkQueue,
        grants: &BTreeSet<(u8, u8)>,
        users: &BTreeSet<u8>,
    ) -> connector_sdk::RunId {
        let run = crate::begin(store, "p");
        store
            .commit_page(run, crate::LEASE, &commit(grants, users))
            .unwrap();
        store.seal_run(run).unwrap();
        store.finish_run(run, RunStatus::Completed, None).unwrap();
        run
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn both_stores_diff_like_set_difference(
            a in proptest::collection::btree_set((0u8..6, 0u8..12), 0..40),
            b in proptest::collection::btree_set((0u8..6, 0u8..12), 0..40),
            ua in proptest::collection::btree_set(0u8..12, 0..12),
            ub in proptest::collection::btree_set(0u8..12, 0..12),
        ) {
            let sqlite = SqliteStore::in_memory().unwrap();
            let memory = MemoryStore::new();
            for store in [&sqlite as &dyn WorkQueue, &memory as &dyn WorkQueue] {
                let (old, new) = (run(store, &a, &ua), run(store, &b, &ub));
                let diff = store.diff(old, new).unwrap();
                let ids = |set: &BTreeSet<(u8, u8)>| -> BTreeSet<String> {
                    set.iter().map(|(g, u)| format!("group:{g}:member:user:{u}")).collect()
                };
                let added: Vec<String> = ids(&b).difference(&ids(&a)).cloned().collect();
                let removed: Vec<String> = ids(&a).difference(&ids(&b)).cloned().collect();
                let got_added: Vec<String> = diff.added_grants.iter().map(ToString::to_string).collect();
                let got_removed: Vec<String> = diff.removed_grants.iter().map(ToString::to_string).collect();
                prop_assert_eq!(got_added, added);
                prop_assert_eq!(got_removed, removed);
                let users = |set: &BTreeSet<u8>| -> BTreeSet<String> { set.iter().map(|u| format!("user:{u}")).collect() };
                let added: Vec<String> = users(&ub).difference(&users(&ua)).cloned().collect();
                let got: Vec<String> = diff.added_resources.iter().map(ToString::to_string).collect();
                prop_assert_eq!(got, added);
            }
        }
    }
}

every_store!(
    resources_page_through_a_type,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape {
            users: 23,
            groups: 3,
            page_size: 4,
            ..Shape::default()
        });
        {
            let store = backend.store.clone();
            let run = SyncEngine::new(tenant.registry(), store.clone(), SyncConfig::default())
                .run(&CancellationToken::new())
                .await
                .unwrap()
                .run;
            let user = connector_sdk::ResourceTypeId::new("user");
            let mut paged = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = store
                    .resources_page(run, &user, after.as_deref(), 5)
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                assert!(page.len() <= 5);
                after = page.last().map(|r| r.id.id.clone());
                paged.extend(page.into_iter().map(|r| r.id.id));
            }
            let all: Vec<String> = store
                .resources(run, &user)
                .unwrap()
                .into_iter()
                .map(|r| r.id.id)
                .collect();
            assert_eq!(paged, all);
            assert_eq!(all.len(), 23);
            assert_eq!(&all[..3], ["1", "10", "11"], "byte order");
            let groups = store
                .resources_page(run, &"group".into(), Some("1"), 10)
                .unwrap();
            let ids: Vec<&str> = groups.iter().map(|r| r.id.id.as_str()).collect();
            assert_eq!(ids, ["2", "3"]);
        }
    }
);

every_store!(
    deleting_a_run_removes_its_rows_and_never_reuses_its_id,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape::default());
        {
            let store = backend.store.clone();
            let engine = SyncEngine::new(tenant.registry(), store.clone(), SyncConfig::default());
            let first = engine.run(&CancellationToken::new()).await.unwrap().run;
            let second = engine.run(&CancellationToken::new()).await.unwrap().run;
            store.delete_run(second).unwrap();
            assert_eq!(
                store
                    .runs()
                    .unwrap()
                    .iter()
                    .map(|r| r.id)
                    .collect::<Vec<_>>(),
                [first]
            );
            assert!(matches!(
                store.counts(second),
                Err(connector_sdk::StoreError::UnknownRun(_))
            ));
            assert!(
                store.counts(first).unwrap().total_grants() > 0,
                "the other run is intact"
            );
            let third = engine.run(&CancellationToken::new()).await.unwrap().run;
            assert!(third > second, "{third} after deleting {second}");
            assert!(store.delete_run(second).is_err());
        }
    }
);

every_store!(
    entitlements_and_grants_page_in_the_memory_stores_order,
    |backend: Backend| async move {
        let tenant = Tenant::new(Shape {
            users: 23,
            groups: 12,
            page_size: 4,
            ..Shape::default()
        });
        let mut seen = Vec::new();
        for store in [
            backend.store.clone(),
            Arc::new(MemoryStore::new()) as Arc<dyn WorkQueue>,
        ] {
            let run = SyncEngine::new(tenant.registry(), store.clone(), SyncConfig::default())
                .run(&CancellationToken::new())
                .await
                .unwrap()
                .run;
            let mut entitlements = Vec::new();
            let mut after = None;
            loop {
                let page = store.entitlements_page(run, after.as_ref(), 3).unwrap();
                assert!(page.len() <= 3);
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                entitlements.extend(page.into_iter().map(|e| e.id.to_string()));
            }
            let mut grants = Vec::new();
            let mut after = None;
            loop {
                let page = store.grants_page(run, after.as_ref(), 7).unwrap();
                assert!(page.len() <= 7);
                let Some(last) = page.last() else { break };
                after = Some(last.clone());
                grants.extend(page.into_iter().map(|g| g.id().to_string()));
            }
            let every: std::collections::BTreeSet<String> = grants.iter().cloned().collect();
            assert_eq!(every.len(), grants.len(), "each grant once");
            assert_eq!(every, crate::grant_ids(store.as_ref(), run));
            // Components compare bytewise: group 10 comes before group 2.
            let groups: Vec<&String> = entitlements
                .iter()
                .filter(|e| e.starts_with("group:"))
                .collect();
            assert_eq!(
                &groups[..3],
                ["group:1:member", "group:10:member", "group:11:member"]
            );
            seen.push((entitlements, grants));
        }
        assert_eq!(seen[0], seen[1], "the store agrees with the memory store");
    }
);

/// Pages of `limit` through one entitlement's grants and one principal's, against the lists.
async fn keyset_pages_list_every_grant_once_in_order(store: Arc<dyn WorkQueue>) {
    // 37 users, each in 3 of 4 groups; pages of 5 rows.
    let tenant = Tenant::new(Shape::bulk(37, 4, 3, 5));
    let engine = SyncEngine::new(tenant.registry(), store.clone(), SyncConfig::default());
    let run = engine.run(&CancellationToken::new()).await.unwrap().run;
    let group =
        connector_sdk::EntitlementId::new(connector_sdk::ResourceId::new("group", "2"), "member");
    let whole = store.grants_for_entitlement(run, &group).unwrap();
    assert!(whole.len() > 20, "{}", whole.len());
    let mut paged = Vec::new();
    loop {
        let after = paged
            .last()
            .map(|g: &connector_sdk::Grant| g.principal.clone());
        let page = store
            .grants_for_entitlement_page(run, &group, after.as_ref(), 5)
            .unwrap();
        assert!(page.len() <= 5);
        let done = page.len() < 5;
        paged.extend(page);
        if done {
            break;
        }
    }
    assert_eq!(paged, whole);
    let user = connector_sdk::ResourceId::new("user", "7");
    let whole = store.grants_for_principal(run, &user).unwrap();
    assert_eq!(whole.len(), 4, "three groups and a role");
    let first = store
        .grants_for_principal_page(run, &user, None, 3)
        .unwrap();
    let rest = store
        .grants_for_principal_page(run, &user, Some(&first[2].entitlement), 3)
        .unwrap();
    assert_eq!([first, rest].concat(), whole);
}

every_store!(keyset_pages_of_grants, |backend: Backend| async move {
    keyset_pages_list_every_grant_once_in_order(backend.store.clone()).await;
});

/// One journal behaviour for every store: intents come back exactly as recorded, oldest
/// first, per connector, until closed; a SQLite journal keeps them across a reopen.
fn journal_round_trip(journal: &dyn connector_sdk::journal::Journal) {
    use connector_sdk::journal::{Intent, IntentDraft, IntentOperation};
    use connector_sdk::{EntitlementId, Holder, ResourceId};
    let role = |id: &str| ResourceId::new("role", id);
    let draft = IntentDraft::revoke(
        ResourceId::new("user", "1"),
        EntitlementId::new(role("4"), "member"),
        "roles",
        vec![role("4"), role("6")],
    );
    let first = Intent::new("c", "c|tenant", draft.clone(), Holder::new("h:1", 1, "h"))
        .with_actor(Some("ConductorOne".into()));
    let grant = IntentDraft::grant(
        ResourceId::new("user", "2"),
        EntitlementId::new(role("7"), "member"),
        "roles",
        vec![],
    );
    let second = Intent::new("c", "c|tenant", grant, Holder::new("h:2", 2, "h"));
    let other = Intent::new("d", "d|tenant", draft, Holder::new("h:3", 3, "h"));
    let a = journal.record_intent(&first).unwrap();
    let b = journal.record_intent(&second).unwrap();
    journal.record_intent(&other).unwrap();
    let open = journal.open_intents("c").unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!((open[0].id, &open[0].intent), (a, &first));
    assert_eq!((open[1].id, &open[1].intent), (b, &second));
    assert_eq!(open[1].intent.draft.operation, IntentOperation::Grant);
    journal.close_intent(a, "completed").unwrap();
    let open = journal.open_intents("c").unwrap();
    assert_eq!(open.iter().map(|o| o.id).collect::<Vec<_>>(), [b]);
    assert_eq!(journal.open_intents("d").unwrap().len(), 1);
}

every_store!(
    journals_record_and_close_intents,
    |backend: Backend| async move {
        journal_round_trip(backend.journal.as_ref());
    }
);

#[test]
fn a_journal_file_keeps_open_intents_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    journal_round_trip(&SqliteStore::open(&path).unwrap());
    let reopened = SqliteStore::open(&path).unwrap();
    let open = connector_sdk::journal::Journal::open_intents(&reopened, "c").unwrap();
    assert_eq!(open.len(), 1, "an open intent outlives its process");
}

/// A store file (and SQLite's `-wal` and `-shm` beside it) holds identities: created readable
/// by its owner only, whatever the umask; an existing file keeps the permissions it has.
#[cfg(unix)]
#[test]
fn a_new_store_file_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    connector_sdk::journal::Journal::open_intents(&store, "c").unwrap();
    for file in ["store.db", "store.db-wal", "store.db-shm"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    drop(store);
    let shared = dir.path().join("shared.db");
    std::fs::write(&shared, b"").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(SqliteStore::open(&shared).unwrap());
    assert_eq!(mode(&shared), 0o644, "left as it is");
}

every_store!(
    a_grant_stored_twice_is_kept_once_with_its_first_annotations,
    |backend: Backend| async move {
        use connector_sdk::backend::PageCommit;
        use connector_sdk::{Annotation, EntitlementId, Grant, Resource, ResourceId};
        let store = backend.store.clone();
        let run = crate::begin(store.as_ref(), "x");
        let group = ResourceId::new("group", "1");
        let grant = |note: &str| {
            let mut g = Grant::new(
                EntitlementId::new(group.clone(), "member"),
                ResourceId::new("user", "1"),
            );
            g.annotations = vec![Annotation::ExternalId { id: note.into() }];
            g
        };
        let first = PageCommit {
            resources: vec![
                Resource::new(group.clone(), "G"),
                Resource::new(ResourceId::new("user", "1"), "U"),
            ],
            entitlements: vec![crate::fixture::member_entitlement(group.clone())],
            grants: vec![grant("first")],
            ..PageCommit::default()
        };
        let second = PageCommit {
            grants: vec![grant("second")],
            ..PageCommit::default()
        };
        store.commit_page(run, crate::LEASE, &first).unwrap();
        store.commit_page(run, crate::LEASE, &second).unwrap();
        store.seal_run(run).unwrap();
        let grants = store.grants_page(run, None, 10).unwrap();
        assert_eq!(grants, [grant("first")]);
        assert_eq!(store.counts(run).unwrap().total_grants(), 1);
        // Sealing again changes nothing.
        store.seal_run(run).unwrap();
        assert_eq!(store.grants_page(run, None, 10).unwrap(), [grant("first")]);
    }
);
