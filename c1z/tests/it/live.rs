//! `LiveWriter`: the file written while a sync runs holds exactly the rows of the file written
//! from the store afterwards, whatever order the pages came in; where that cannot be assured
//! the file is written from the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use c1z::{LiveWriter, Writer};
use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{Resource, RunId, SqliteStore, Store, StoredPage, SyncConfig, SyncEngine};
use tokio_util::sync::CancellationToken;

use crate::{assert_round_trip, in_store, open, synced};

/// A writer whose files differ only in what they hold (fixed clock and sync id).
fn writer() -> Writer {
    Writer::new()
        .with_clock(UNIX_EPOCH + Duration::from_secs(1_796_163_502))
        .with_sync_id("2Ez7BgVnWpeUyOm6ArCXtqMBbM1")
}

/// A value as text (blobs in hex).
fn shown(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// The two files hold the same rows and schema; the rows that differ otherwise.
fn assert_same(a: &std::path::Path, b: &std::path::Path) {
    let (a, b) = (contents(a), contents(b));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut differences = Vec::new();
    for key in keys {
        let empty = BTreeSet::new();
        let (x, y) = (a.get(key).unwrap_or(&empty), b.get(key).unwrap_or(&empty));
        for row in x.symmetric_difference(y).take(4) {
            let side = if x.contains(row) {
                "only in the first"
            } else {
                "only in the second"
            };
            differences.push(format!("{key}, {side}: {}", row.join(", ")));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Every table's rows (without the `id` column, which follows insertion order) and the
/// database's schema objects.
fn contents(path: &std::path::Path) -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let (_, _dir, conn) = open(path);
    let mut out = BTreeMap::new();
    let schema: BTreeSet<Vec<String>> = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master")
        .unwrap()
        .query_map([], |r| {
            Ok((0..4).map(|i| shown(r.get_ref(i).unwrap())).collect())
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let rows: BTreeSet<Vec<String>> = stmt
            .query_map([], |r| {
                Ok(names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| *n != "id")
                    .map(|(i, n)| format!("{n}={}", shown(r.get_ref(i).unwrap())))
                    .collect())
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.insert(table, rows);
    }
    out.insert("schema".into(), schema);
    out
}

/// The bulk shape: grants ride on the users' pages, often before their groups are stored.
fn tenant() -> FakeTenant {
    FakeTenant::new(Shape::bulk(150, 9, 4, 10))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_written_during_the_sync_holds_what_the_store_would_give() {
    let tenant = tenant();
    // Calls take a while, as a rate limit makes them: the writer keeps up.
    *tenant.faults.delay.lock().unwrap() = Some(Duration::from_millis(5));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let live = writer().live(store.clone(), dir.path()).unwrap();
    let report = SyncEngine::new(
        tenant.registry_for("fake tenant"),
        store.clone(),
        SyncConfig::default().with_workers(4),
    )
    .with_observer(live.observer())
    .run(&CancellationToken::new())
    .await
    .unwrap();
    let during = dir.path().join("during.c1z");
    let written = live.finish(report.run, &during).unwrap();
    assert!(written.written_during_sync);
    assert_eq!(written.grants, report.counts.total_grants());
    assert_eq!(written.resources, report.counts.total_resources());
    assert_eq!(written.syncs_kept, 1);
    let after = dir.path().join("after.c1z");
    let expected = writer().write(store.as_ref(), report.run, &after).unwrap();
    assert!(!expected.written_during_sync);
    assert_eq!(written.sync_id, expected.sync_id);
    assert_same(&during, &after);
    assert_round_trip(store.as_ref(), report.run, &during);
    // Only the file is left in the directory.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["after.c1z", "during.c1z"]);
}

/// Pages of the run's rows, read back from the store.
fn pages(store: &dyn Store, run: RunId) -> (Vec<Resource>, StoredPage, StoredPage) {
    let (resources, entitlements, grants) = in_store(store, run);
    let resources: Vec<Resource> = resources.into_values().collect();
    (
        resources,
        StoredPage::new(Vec::new(), entitlements.into_values().collect(), Vec::new()),
        StoredPage::new(Vec::new(), Vec::new(), grants.into_values().collect()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_before_their_resources_and_resources_replaced_embed_the_final_resource() {
    let (store, run) = synced(&tenant(), "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let live = writer().live(store.clone(), dir.path()).unwrap();
    let observer = live.observer();
    let (resources, entitlements, grants) = pages(store.as_ref(), run);
    // Grants first (their groups not stored yet), then every resource as another listing
    // had it, the entitlements (embedding those), and last the resources as stored.
    let stale: Vec<Resource> = resources
        .iter()
        .cloned()
        .map(|mut r| {
            r.display_name.push_str(" (stale)");
            r
        })
        .collect();
    observer.started(run, false);
    observer.stored(run, grants);
    observer.stored(run, StoredPage::new(stale, Vec::new(), Vec::new()));
    observer.stored(run, entitlements);
    observer.stored(run, StoredPage::new(resources, Vec::new(), Vec::new()));
    observer.drained(run);
    let during = dir.path().join("during.c1z");
    let written = live.finish(run, &during).unwrap();
    assert!(written.written_during_sync);
    let after = dir.path().join("after.c1z");
    writer().write(store.as_ref(), run, &after).unwrap();
    assert_same(&during, &after);
}

/// The file written is the store's, and says so.
fn assert_from_store(live: LiveWriter, store: &dyn Store, run: RunId, dir: &std::path::Path) {
    let path = dir.join("fallback.c1z");
    let written = live.finish(run, &path).unwrap();
    assert!(!written.written_during_sync);
    let after = dir.join("after.c1z");
    writer().write(store, run, &after).unwrap();
    assert_same(&path, &after);
    std::fs::remove_file(after).unwrap();
    std::fs::remove_file(path).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_not_followed_whole_is_written_from_the_store() {
    let (store, run) = synced(&tenant(), "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let (resources, entitlements, grants) = pages(store.as_ref(), run);

    // Resumed: earlier pages were never seen.
    let live = writer().live(store.clone(), dir.path()).unwrap();
    live.observer().started(run, true);
    live.observer().stored(run, grants.clone());
    live.observer().drained(run);
    assert_from_store(live, store.as_ref(), run, dir.path());

    // Not drained: the sync stopped.
    let live = writer().live(store.clone(), dir.path()).unwrap();
    live.observer().started(run, false);
    live.observer().stored(run, grants.clone());
    assert_from_store(live, store.as_ref(), run, dir.path());

    // Drained, but a page is missing (the rows do not add up to the run's counts).
    let live = writer().live(store.clone(), dir.path()).unwrap();
    live.observer().started(run, false);
    live.observer().stored(
        run,
        StoredPage::new(resources.clone(), Vec::new(), Vec::new()),
    );
    live.observer().stored(run, entitlements.clone());
    live.observer().drained(run);
    assert_from_store(live, store.as_ref(), run, dir.path());

    // Pages stored faster than they are written: the queue is bounded, the writer gives up.
    let live = writer().live(store.clone(), dir.path()).unwrap();
    live.observer().started(run, false);
    for _ in 0..10_000 {
        live.observer()
            .stored(run, StoredPage::new(Vec::new(), Vec::new(), Vec::new()));
    }
    live.observer().stored(
        run,
        StoredPage::new(resources.clone(), Vec::new(), Vec::new()),
    );
    live.observer().stored(run, entitlements.clone());
    live.observer().stored(run, grants.clone());
    live.observer().drained(run);
    assert_from_store(live, store.as_ref(), run, dir.path());

    // Nothing started; and a writer dropped unfinished leaves nothing behind.
    let live = writer().live(store.clone(), dir.path()).unwrap();
    assert_from_store(live, store.as_ref(), run, dir.path());
    let live = writer().live(store.clone(), dir.path()).unwrap();
    live.observer().started(run, false);
    drop(live);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_holds_syncs_gets_the_run_from_the_store() {
    let (store, run) = synced(&tenant(), "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    Writer::new().write(store.as_ref(), run, &path).unwrap();
    let (resources, entitlements, grants) = pages(store.as_ref(), run);
    let live = Writer::new().live(store.clone(), dir.path()).unwrap();
    live.observer().started(run, false);
    live.observer()
        .stored(run, StoredPage::new(resources, Vec::new(), Vec::new()));
    live.observer().stored(run, entitlements);
    live.observer().stored(run, grants);
    live.observer().drained(run);
    let written = live.finish(run, &path).unwrap();
    assert!(!written.written_during_sync);
    assert_eq!(written.syncs_kept, 2);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_database_a_stopped_process_left_is_removed_by_the_next_writer() {
    use connector_sdk::Holder;
    let (store, _) = synced(&tenant(), "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let host = Holder::current().host;
    let leave = |name: &str, holder: Option<Holder>| {
        let path = dir.path().join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("db.sqlite"), b"left behind").unwrap();
        if let Some(holder) = holder {
            std::fs::write(
                path.join("holder.json"),
                serde_json::to_vec(&holder).unwrap(),
            )
            .unwrap();
        }
    };
    // A process on this host that is gone; one on another host; this very process; one that
    // has not written its holder yet; a directory that is not a writer's.
    leave(
        ".c1z-live-dead",
        Some(Holder::new("gone", u32::MAX, host.clone())),
    );
    leave(
        ".c1z-live-elsewhere",
        Some(Holder::new("other", u32::MAX, "another-host")),
    );
    leave(".c1z-live-alive", Some(Holder::current()));
    leave(".c1z-live-starting", None);
    leave("kept", Some(Holder::new("gone", u32::MAX, host)));
    let live = writer().live(store.clone(), dir.path()).unwrap();
    let names: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let ours: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.starts_with(".c1z-live-")
                && ![
                    ".c1z-live-elsewhere",
                    ".c1z-live-alive",
                    ".c1z-live-starting",
                ]
                .contains(&n.as_str())
        })
        .collect();
    assert_eq!(ours.len(), 1, "{names:?}");
    for kept in [
        ".c1z-live-elsewhere",
        ".c1z-live-alive",
        ".c1z-live-starting",
        "kept",
    ] {
        assert!(names.contains(kept), "{kept} was removed: {names:?}");
    }
    assert!(!names.contains(".c1z-live-dead"), "{names:?}");
    // The writer's own directory names this process, so the next writer leaves it alone.
    let holder: Holder = serde_json::from_slice(
        &std::fs::read(dir.path().join(ours[0]).join("holder.json")).unwrap(),
    )
    .unwrap();
    assert!(holder.may_be_alive());
    assert_eq!(holder.pid, std::process::id());
    drop(live);
}
