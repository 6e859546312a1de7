//! Files made to hurt the reader or the writer: views and triggers, oversized values, payloads
//! that declare more than the cap. Each is refused (or read) within bounded memory and leaves no
//! temporary file behind.

use c1z::{Error, Reader, Writer};

use crate::{fixture, rewrite};

/// The entries of `dir` whose name starts with `.c1z-` (the writer's work directories).
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".c1z-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn views_and_triggers_are_refused_when_reading_and_writing_into() {
    let (store, run) = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.c1z");
    Writer::new().write(store.as_ref(), run, &good).unwrap();
    let cases = [
        (
            "view.c1z",
            // A 470-byte file could make this expand to gigabytes when selected.
            "DROP TABLE v1_resources;
             CREATE VIEW v1_resources AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
             FROM n WHERE i < 1000) SELECT i AS id, '' AS resource_type_id, '' AS external_id,
             zeroblob(300000000) AS data, '' AS sync_id FROM n;",
            "not a v1 .c1z database: it holds a view named v1_resources: only baton's tables are read",
        ),
        (
            "trigger.c1z",
            "CREATE TRIGGER wipe AFTER INSERT ON v1_grants BEGIN DELETE FROM v1_resources; END;",
            "not a v1 .c1z database: it holds a trigger named wipe: only baton's tables are read",
        ),
    ];
    for (name, sql, expected) in cases {
        let path = dir.path().join(name);
        rewrite(&good, &path, sql);
        let before = std::fs::read(&path).unwrap();
        let err = Reader::open(&path).unwrap_err();
        assert!(matches!(err, Error::Schema(_)), "{name}: {err:?}");
        assert_eq!(err.to_string(), expected);
        let err = Writer::new().write(store.as_ref(), run, &path).unwrap_err();
        assert_eq!(err.to_string(), expected, "{name}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{name}: the file is unchanged"
        );
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_over_the_limit_is_an_error_not_an_allocation() {
    let (store, run) = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.c1z");
    Writer::new().write(store.as_ref(), run, &good).unwrap();
    let big = dir.path().join("big.c1z");
    rewrite(
        &good,
        &big,
        "UPDATE v1_resources SET data = zeroblob(40 * 1024 * 1024) WHERE external_id = 'user:2'",
    );
    let reader = Reader::open(&big).unwrap();
    let err = reader.resources().find_map(Result::err).unwrap();
    assert!(matches!(err, Error::Database(_)), "{err:?}");
    let chain = connector_sdk::error_chain(&err);
    assert!(chain.contains("too big"), "{chain}");
}

#[test]
fn a_payload_declaring_more_than_the_cap_is_refused_before_decompressing() {
    let dir = tempfile::tempdir().unwrap();
    // A zstd frame header declaring 11 GiB of content (single segment, 8-byte content size),
    // then one empty raw block: a few bytes that claim more than the 10 GiB cap.
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend_from_slice(&0xFD2F_B528_u32.to_le_bytes());
    bytes.push(0b1110_0000);
    bytes.extend_from_slice(&(11_u64 << 30).to_le_bytes());
    bytes.extend_from_slice(&[0x01, 0x00, 0x00]);
    let path = dir.path().join("zeros.c1z");
    std::fs::write(&path, &bytes).unwrap();
    let err = Reader::open(&path).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit } if limit == c1z::DEFAULT_MAX_DECODED),
        "{err:?}"
    );
}
