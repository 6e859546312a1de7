//! Files: deterministic bytes, syncs kept for `baton diff`, files from older baton writers, and
//! every kind of bad file as a typed error.

use std::time::{Duration, UNIX_EPOCH};

use c1z::{Error, Reader, Writer};
use connector_sdk::testing::fake::{FakeTenant, Shape};

use crate::{assert_round_trip, fixture, grant_ids, open, rewrite, synced};

/// A fake tenant of `users` users.
fn users(users: u32) -> FakeTenant {
    FakeTenant::new(Shape {
        users,
        ..Shape::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_run_gives_the_same_bytes() {
    let (store, run) = synced(&users(120), "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(1_796_163_502);
    let writer = Writer::new().with_clock(at);
    let a = dir.path().join("a.c1z");
    let b = dir.path().join("b.c1z");
    let report = writer.write(store.as_ref(), run, &a).unwrap();
    writer.write(store.as_ref(), run, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(report.sync_id.len(), 27);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_of_another_tenant_is_not_written_into_unless_asked() {
    let (a, a_run) = synced(&users(23), "tenant A").await;
    let (b, b_run) = synced(&users(23), "tenant B").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.c1z");
    let first = Writer::new().write(a.as_ref(), a_run, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Writer::new().write(b.as_ref(), b_run, &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the file's latest sync {} is of \"connector=synth|tenant=tenant A\", not of \
             \"connector=synth|tenant=tenant B\": a .c1z holds one tenant (write another file, or \
             allow the change explicitly)",
            first.sync_id
        )
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
    let report = Writer::new()
        .with_fingerprint_change(true)
        .write(b.as_ref(), b_run, &path)
        .unwrap();
    assert_eq!(report.syncs_kept, 2);
    // From then on the file is tenant B's.
    assert!(matches!(
        Writer::new().write(a.as_ref(), a_run, &path),
        Err(Error::OtherFingerprint { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_fingerprinted_before_parts_had_names_takes_the_same_tenant_only() {
    let (a, a_run) = synced(&users(23), "tenant A").await;
    let (b, b_run) = synced(&users(23), "tenant B").await;
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("new.c1z");
    Writer::new().write(a.as_ref(), a_run, &written).unwrap();
    let old = dir.path().join("old.c1z");
    rewrite(
        &written,
        &old,
        "UPDATE c1z_sync_fingerprints SET fingerprint = 'synth|tenant A'",
    );
    assert!(matches!(
        Writer::new().write(b.as_ref(), b_run, &old),
        Err(Error::OtherFingerprint { file, .. })
            if file == "synth|tenant A"
    ));
    let report = Writer::new().write(a.as_ref(), a_run, &old).unwrap();
    assert_eq!(report.syncs_kept, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_into_a_file_keeps_the_previous_sync_for_diff() {
    let (old, old_run) = synced(&users(60), "fake tenant").await;
    let (new, new_run) = synced(&users(80), "fake tenant").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.c1z");
    let first = Writer::new().write(old.as_ref(), old_run, &path).unwrap();
    let second = Writer::new().write(new.as_ref(), new_run, &path).unwrap();
    assert_eq!(second.syncs_kept, 2);
    let reader = Reader::open(&path).unwrap();
    let syncs = reader.syncs().unwrap();
    assert_eq!(
        syncs.iter().map(|s| s.sync_id.as_str()).collect::<Vec<_>>(),
        [first.sync_id.as_str(), second.sync_id.as_str()]
    );
    let newest: std::collections::BTreeSet<String> = reader
        .grants()
        .map(|g| g.unwrap().id().to_string())
        .collect();
    assert_eq!(
        newest,
        grant_ids(new.as_ref(), new_run),
        "the newest sync by default"
    );
    let older = Reader::open_at(&path, Some(&first.sync_id)).unwrap();
    let grants: std::collections::BTreeSet<String> = older
        .grants()
        .map(|g| g.unwrap().id().to_string())
        .collect();
    assert_eq!(grants, grant_ids(old.as_ref(), old_run));
    // A third sync drops the oldest: two finished syncs at most.
    let third = Writer::new().write(new.as_ref(), new_run, &path).unwrap();
    assert_eq!(third.syncs_kept, 2);
    let reader = Reader::open(&path).unwrap();
    let ids: Vec<String> = reader
        .syncs()
        .unwrap()
        .into_iter()
        .map(|s| s.sync_id)
        .collect();
    assert_eq!(ids, [second.sync_id, third.sync_id]);
    let (_, _db, conn) = open(&path);
    let stale: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM v1_grants WHERE sync_id = ?1",
            [&first.sync_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stale, 0, "the dropped sync's rows are gone");
    assert!(matches!(
        Reader::open_at(&path, Some(&first.sync_id)),
        Err(Error::NoSync(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_from_an_older_baton_writer_is_read_and_appended_to() {
    let (store, run) = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.c1z");
    let old = dir.path().join("old.c1z");
    Writer::new().write(store.as_ref(), run, &ours).unwrap();
    // baton-sdk v0.2.58's shape: sync_runs with the first four columns only, grants without
    // the expansion columns.
    rewrite(
        &ours,
        &old,
        "DROP INDEX idx_grants_sync_expansion_v1; DROP INDEX idx_grants_sync_needs_expansion_v1;
         ALTER TABLE v1_grants DROP COLUMN expansion; ALTER TABLE v1_grants DROP COLUMN needs_expansion;
         ALTER TABLE v1_sync_runs DROP COLUMN sync_type; ALTER TABLE v1_sync_runs DROP COLUMN parent_sync_id;
         ALTER TABLE v1_sync_runs DROP COLUMN linked_sync_id; ALTER TABLE v1_sync_runs DROP COLUMN supports_diff;
         ALTER TABLE v1_sync_runs DROP COLUMN grants_backfilled; ALTER TABLE v1_sync_runs DROP COLUMN stats;
         ALTER TABLE v1_sync_runs DROP COLUMN ingest_invariant_generation;
         ALTER TABLE v1_sync_runs DROP COLUMN ingest_invariant_coverage;
         ALTER TABLE v1_sync_runs DROP COLUMN ingest_invariant_mode;",
    );
    assert_round_trip(store.as_ref(), run, &old);
    let report = Writer::new().write(store.as_ref(), run, &old).unwrap();
    assert_eq!(report.syncs_kept, 2);
    assert_round_trip(store.as_ref(), run, &old);
}

#[tokio::test(flavor = "multi_thread")]
async fn slim_grants_are_completed_from_their_columns() {
    let (store, run) = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.c1z");
    let slim = dir.path().join("slim.c1z");
    Writer::new().write(store.as_ref(), run, &ours).unwrap();
    // A blob that holds only the grant id (field 3), as newer baton writers may store it.
    rewrite(
        &ours,
        &slim,
        "UPDATE v1_grants SET data = CAST(char(26, length(external_id)) || external_id AS BLOB)
         WHERE length(external_id) < 128",
    );
    assert_round_trip(store.as_ref(), run, &slim);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_typed_errors() {
    let (store, run) = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.c1z");
    Writer::new().write(store.as_ref(), run, &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let file = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };

    let pebble = file("pebble.c1z", &[b"C1Z3\0".as_slice(), &bytes[5..]].concat());
    let err = Reader::open(&pebble).unwrap_err();
    assert!(matches!(err, Error::PebbleContainer), "{err:?}");
    assert!(
        err.to_string().contains("export it with SQLite storage"),
        "{err}"
    );

    for (name, content) in [
        ("empty.c1z", &b""[..]),
        ("short.c1z", &b"C1Z"[..]),
        ("sqlite.c1z", &b"SQLite format 3\0"[..]),
    ] {
        let err = Reader::open(file(name, content)).unwrap_err();
        assert!(matches!(err, Error::BadHeader { .. }), "{name}: {err:?}");
    }

    let truncated = file("truncated.c1z", &bytes[..bytes.len() / 2]);
    let err = Reader::open(&truncated).unwrap_err();
    assert!(matches!(err, Error::Decompress(_)), "{err:?}");

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xFF;
    let err = Reader::open(file("flipped.c1z", &flipped)).unwrap_err();
    assert!(
        matches!(err, Error::Decompress(_) | Error::Database(_)),
        "{err:?}"
    );

    let not_db = file(
        "notdb.c1z",
        &[
            b"C1ZF\0".as_slice(),
            &zstd::stream::encode_all(&b"hello"[..], 3).unwrap(),
        ]
        .concat(),
    );
    let err = Reader::open(&not_db).unwrap_err();
    assert!(matches!(err, Error::Schema(_)), "{err:?}");

    // A row whose column disagrees with its blob.
    let mismatch = dir.path().join("mismatch.c1z");
    rewrite(
        &good,
        &mismatch,
        "UPDATE v1_grants SET principal_resource_id = '3' WHERE external_id = 'group:1:member:user:2'",
    );
    let reader = Reader::open(&mismatch).unwrap();
    let err = reader.grants().find_map(Result::err).unwrap();
    let Error::Mismatch {
        table,
        column,
        column_value,
        blob_value,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*table, *column, column_value.as_str(), blob_value.as_str()),
        ("v1_grants", "principal_resource_id", "3", "2")
    );

    // A blob that is not protobuf.
    let garbage = dir.path().join("garbage.c1z");
    rewrite(
        &good,
        &garbage,
        "UPDATE v1_resources SET data = X'FFFFFFFF' WHERE external_id = 'user:2'",
    );
    let reader = Reader::open(&garbage).unwrap();
    let err = reader.resources().find_map(Result::err).unwrap();
    assert!(
        matches!(
            err,
            Error::Blob {
                table: "v1_resources",
                ..
            }
        ),
        "{err:?}"
    );

    // Only a completed run is written.
    let writer_err = Writer::new()
        .write(
            store.as_ref(),
            connector_sdk::RunId::from_raw(99),
            &dir.path().join("x.c1z"),
        )
        .unwrap_err();
    assert!(matches!(writer_err, Error::Store(_)), "{writer_err:?}");
}
