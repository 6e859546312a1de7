//! `PageObserver`: every stored row handed on once, in store order; resumed and failed runs
//! are told apart from whole ones.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use connector_sdk::{Error, PageObserver, RunId, SqliteStore, StoredPage, SyncConfig, SyncEngine};
use tokio_util::sync::CancellationToken;

use crate::fixture::{Shape, Tenant};
use crate::{grant_ids, resource_ids};

/// What an observer was told, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Started(RunId, bool),
    Page(RunId),
    Drained(RunId),
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    resources: Mutex<BTreeMap<String, usize>>,
    grants: Mutex<BTreeMap<String, usize>>,
}

impl PageObserver for Recorder {
    fn started(&self, run: RunId, resumed: bool) {
        self.seen.lock().unwrap().push(Seen::Started(run, resumed));
    }

    fn stored(&self, run: RunId, page: StoredPage) {
        self.seen.lock().unwrap().push(Seen::Page(run));
        for r in page.resources {
            *self
                .resources
                .lock()
                .unwrap()
                .entry(r.id.to_string())
                .or_default() += 1;
        }
        for g in page.grants {
            *self
                .grants
                .lock()
                .unwrap()
                .entry(g.id().to_string())
                .or_default() += 1;
        }
    }

    fn drained(&self, run: RunId) {
        self.seen.lock().unwrap().push(Seen::Drained(run));
    }
}

fn engine(tenant: &Tenant, store: Arc<SqliteStore>, recorder: &Arc<Recorder>) -> SyncEngine {
    SyncEngine::new(
        tenant.registry(),
        store,
        SyncConfig::default().with_workers(3),
    )
    .with_observer(recorder.clone())
}

fn shape() -> Shape {
    Shape {
        users: 13,
        groups: 4,
        page_size: 3,
        ..Shape::default()
    }
}

#[tokio::test]
async fn a_whole_run_is_handed_on_page_by_page_then_drained() {
    let tenant = Tenant::new(shape());
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let recorder = Arc::new(Recorder::default());
    let report = engine(&tenant, store.clone(), &recorder)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&Seen::Started(report.run, false)));
    assert_eq!(seen.last(), Some(&Seen::Drained(report.run)));
    let pages = seen
        .iter()
        .filter(|s| **s == Seen::Page(report.run))
        .count();
    assert_eq!(pages as u64, report.progress.pages);
    assert_eq!(seen.len(), pages + 2);
    // Every stored row, each once (this tenant lists no row twice).
    let resources = recorder.resources.lock().unwrap().clone();
    assert_eq!(
        resources
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        resource_ids(store.as_ref(), report.run)
    );
    assert!(resources.values().all(|n| *n == 1), "{resources:?}");
    let grants = recorder.grants.lock().unwrap().clone();
    assert_eq!(
        grants
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        grant_ids(store.as_ref(), report.run)
    );
    assert!(grants.values().all(|n| *n == 1), "{grants:?}");
}

#[tokio::test]
async fn a_failed_sync_is_never_drained_and_its_resumption_says_resumed() {
    let tenant = Tenant::new(shape());
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    *tenant.faults.fail_at.lock().unwrap() = Some(6);
    let first = Arc::new(Recorder::default());
    let err = engine(&tenant, store.clone(), &first)
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connector { .. }), "{err}");
    let seen = first.seen.lock().unwrap().clone();
    let run = match seen.first() {
        Some(Seen::Started(run, false)) => *run,
        other => panic!("{other:?}"),
    };
    assert!(
        seen.iter().skip(1).all(|s| *s == Seen::Page(run)),
        "{seen:?}"
    );
    assert!(tenant.faults.calls.load(Ordering::SeqCst) >= 6);

    *tenant.faults.fail_at.lock().unwrap() = None;
    let second = Arc::new(Recorder::default());
    let report = engine(&tenant, store.clone(), &second)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.run, run);
    let seen = second.seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&Seen::Started(run, true)));
    assert_eq!(seen.last(), Some(&Seen::Drained(run)));
}
