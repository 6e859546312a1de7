//! The database inside a written `.c1z`, table by table and index by index, against baton's
//! reference (`C1Z_FORMAT.md` §2), and the container around it (§1).

use std::collections::BTreeSet;

use crate::open;

/// (table, column, declared type, not null, default) per baton's reference.
const COLUMNS: &[(&str, &str, &str, bool, Option<&str>)] = &[
    ("v1_resource_types", "id", "integer", false, None),
    ("v1_resource_types", "external_id", "text", true, None),
    ("v1_resource_types", "data", "blob", true, None),
    ("v1_resource_types", "sync_id", "text", true, None),
    ("v1_resource_types", "discovered_at", "datetime", true, None),
    ("v1_resources", "id", "integer", false, None),
    ("v1_resources", "resource_type_id", "text", true, None),
    ("v1_resources", "external_id", "text", true, None),
    (
        "v1_resources",
        "parent_resource_type_id",
        "text",
        false,
        None,
    ),
    ("v1_resources", "parent_resource_id", "text", false, None),
    ("v1_resources", "data", "blob", true, None),
    ("v1_resources", "sync_id", "text", true, None),
    ("v1_resources", "discovered_at", "datetime", true, None),
    ("v1_entitlements", "id", "integer", false, None),
    ("v1_entitlements", "resource_type_id", "text", true, None),
    ("v1_entitlements", "resource_id", "text", true, None),
    ("v1_entitlements", "external_id", "text", true, None),
    ("v1_entitlements", "data", "blob", true, None),
    ("v1_entitlements", "sync_id", "text", true, None),
    ("v1_entitlements", "discovered_at", "datetime", true, None),
    ("v1_grants", "id", "integer", false, None),
    ("v1_grants", "resource_type_id", "text", true, None),
    ("v1_grants", "resource_id", "text", true, None),
    ("v1_grants", "entitlement_id", "text", true, None),
    (
        "v1_grants",
        "principal_resource_type_id",
        "text",
        true,
        None,
    ),
    ("v1_grants", "principal_resource_id", "text", true, None),
    ("v1_grants", "external_id", "text", true, None),
    ("v1_grants", "expansion", "blob", false, None),
    ("v1_grants", "needs_expansion", "integer", true, Some("0")),
    ("v1_grants", "data", "blob", true, None),
    ("v1_grants", "sync_id", "text", true, None),
    ("v1_grants", "discovered_at", "datetime", true, None),
    ("v1_sync_runs", "id", "integer", false, None),
    ("v1_sync_runs", "sync_id", "text", true, None),
    ("v1_sync_runs", "started_at", "datetime", true, None),
    ("v1_sync_runs", "ended_at", "datetime", false, None),
    ("v1_sync_runs", "sync_token", "text", true, None),
    ("v1_sync_runs", "sync_type", "text", true, Some("'full'")),
    ("v1_sync_runs", "parent_sync_id", "text", true, Some("''")),
    ("v1_sync_runs", "linked_sync_id", "text", true, Some("''")),
    ("v1_sync_runs", "supports_diff", "integer", true, Some("0")),
    (
        "v1_sync_runs",
        "grants_backfilled",
        "integer",
        true,
        Some("0"),
    ),
    ("v1_sync_runs", "stats", "text", false, None),
    (
        "v1_sync_runs",
        "ingest_invariant_generation",
        "text",
        true,
        Some("''"),
    ),
    (
        "v1_sync_runs",
        "ingest_invariant_coverage",
        "text",
        true,
        Some("''"),
    ),
    (
        "v1_sync_runs",
        "ingest_invariant_mode",
        "text",
        true,
        Some("''"),
    ),
    ("v1_assets", "id", "integer", false, None),
    ("v1_assets", "external_id", "text", true, None),
    ("v1_assets", "content_type", "text", true, None),
    ("v1_assets", "data", "blob", true, None),
    ("v1_assets", "sync_id", "text", true, None),
    ("v1_assets", "discovered_at", "datetime", true, None),
    ("v1_connector_sessions", "id", "integer", false, None),
    ("v1_connector_sessions", "sync_id", "text", true, None),
    ("v1_connector_sessions", "key", "text", true, None),
    ("v1_connector_sessions", "value", "blob", true, None),
];

/// (index, table, columns, unique, partial) per baton's reference, swapped pair included.
const INDEXES: &[(&str, &str, &[&str], bool, bool)] = &[
    (
        "idx_resource_types_external_sync_v1",
        "v1_resource_types",
        &["external_id", "sync_id"],
        true,
        false,
    ),
    (
        "idx_resources_resource_type_id_v1",
        "v1_resources",
        &["resource_type_id"],
        false,
        false,
    ),
    (
        "idx_resources_external_sync_v1",
        "v1_resources",
        &["parent_resource_type_id", "parent_resource_id"],
        false,
        false,
    ),
    (
        "idx_resources_parent_resource_id_v1",
        "v1_resources",
        &["external_id", "sync_id"],
        true,
        false,
    ),
    (
        "idx_entitlements_resource_id_v1",
        "v1_entitlements",
        &["resource_type_id", "resource_id"],
        false,
        false,
    ),
    (
        "idx_entitlements_external_sync_v1",
        "v1_entitlements",
        &["external_id", "sync_id"],
        true,
        false,
    ),
    (
        "idx_grants_resource_type_id_resource_id_v1",
        "v1_grants",
        &["resource_type_id", "resource_id"],
        false,
        false,
    ),
    (
        "idx_grants_principal_id_v1",
        "v1_grants",
        &["principal_resource_type_id", "principal_resource_id"],
        false,
        false,
    ),
    (
        "idx_grants_entitlement_id_principal_id_v1",
        "v1_grants",
        &[
            "entitlement_id",
            "principal_resource_type_id",
            "principal_resource_id",
        ],
        false,
        false,
    ),
    (
        "idx_grants_external_sync_v1",
        "v1_grants",
        &["external_id", "sync_id"],
        true,
        false,
    ),
    (
        "idx_grants_entitlement_sync_grant_v1",
        "v1_grants",
        &["entitlement_id", "sync_id", "id"],
        false,
        false,
    ),
    (
        "idx_grants_sync_expansion_v1",
        "v1_grants",
        &["sync_id"],
        false,
        true,
    ),
    (
        "idx_grants_sync_needs_expansion_v1",
        "v1_grants",
        &["sync_id"],
        false,
        true,
    ),
    (
        "idx_sync_runs_sync_id_v1",
        "v1_sync_runs",
        &["sync_id"],
        true,
        false,
    ),
    (
        "idx_assets_external_sync_v1",
        "v1_assets",
        &["external_id", "sync_id"],
        true,
        false,
    ),
    (
        "idx_session_store_sync_key_v1",
        "v1_connector_sessions",
        &["sync_id", "key"],
        true,
        false,
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_database_has_batons_tables_and_indexes_exactly() {
    let (store, run) = crate::fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.c1z");
    c1z::Writer::new()
        .write(store.as_ref(), run, &path)
        .unwrap();
    let (_, _db_dir, conn) = open(&path);

    let tables: BTreeSet<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: BTreeSet<String> = COLUMNS.iter().map(|c| c.0.to_owned()).collect();
    // baton's tables exactly, and the one table of ours that baton's readers ignore.
    let mut with_ours = expected.clone();
    with_ours.insert("c1z_sync_fingerprints".to_owned());
    assert_eq!(tables, with_ours);
    for table in &expected {
        let mut actual: Vec<(String, String, bool, Option<String>, bool)> = conn
            .prepare(&format!(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}')"
            ))
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, String>(1)?.to_lowercase(),
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, i64>(4)? == 1,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            actual[0],
            ("id".to_owned(), "integer".to_owned(), false, None, true),
            "{table}: id integer primary key first"
        );
        actual.sort();
        let mut wanted: Vec<_> = COLUMNS
            .iter()
            .filter(|c| c.0 == table)
            .map(|c| {
                (
                    c.1.to_owned(),
                    c.2.to_owned(),
                    c.3,
                    c.4.map(str::to_owned),
                    c.1 == "id",
                )
            })
            .collect();
        wanted.sort();
        assert_eq!(actual, wanted, "{table}");
        let strict: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM sqlite_master WHERE name = '{table}' AND (sql LIKE '%WITHOUT ROWID%' OR sql LIKE '%STRICT%')"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(strict, 0, "{table}: no STRICT or WITHOUT ROWID");
    }

    let indexes: BTreeSet<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(indexes, INDEXES.iter().map(|i| i.0.to_owned()).collect());
    for (name, table, columns, unique, partial) in INDEXES {
        let (on, sql): (String, String) = conn
            .query_row(
                "SELECT tbl_name, sql FROM sqlite_master WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(&on, table, "{name}");
        let cols: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(cols, *columns, "{name}");
        assert_eq!(sql.contains("UNIQUE"), *unique, "{name}: {sql}");
        assert_eq!(sql.contains(" WHERE "), *partial, "{name}: {sql}");
    }
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'idx_grants_sync_needs_expansion_v1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(sql.ends_with("WHERE needs_expansion = 1"), "{sql}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_container_and_the_database_file_are_as_baton_expects() {
    let (store, run) = crate::fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.c1z");
    c1z::Writer::new()
        .write(store.as_ref(), run, &path)
        .unwrap();
    let (bytes, db_dir, conn) = open(&path);
    assert_eq!(&bytes[..5], b"C1ZF\0");
    // The zstd frame: magic, then a descriptor with the checksum flag and a content size.
    assert_eq!(&bytes[5..9], &[0x28, 0xB5, 0x2F, 0xFD]);
    let descriptor = bytes[9];
    assert_ne!(descriptor & 0x04, 0, "checksum flag");
    assert_ne!(
        descriptor >> 6,
        0,
        "content size present (or single segment with it)"
    );
    let db = std::fs::read(db_dir.path().join("db.sqlite")).unwrap();
    assert_eq!(&db[..16], b"SQLite format 3\0");
    assert_eq!(
        (db[18], db[19]),
        (1, 1),
        "rollback journal (DELETE), not WAL"
    );
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0, "vacuumed");
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page, 4096);
    let (sync_type, token, backfilled, ended, stats): (
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
    ) = conn
        .query_row(
            "SELECT sync_type, sync_token, grants_backfilled, ended_at, stats FROM v1_sync_runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (sync_type.as_str(), token.as_str(), backfilled, stats),
        ("full", "", 1, None)
    );
    let ended = ended.unwrap();
    assert!(
        ended.len() >= 19 && ended.len() <= 29 && !ended.contains('T'),
        "{ended}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        leftovers,
        ["s.c1z"],
        "no temporary files left beside the output"
    );
    // Grants carry no expansion, and discovered_at on every row.
    let (expansions, undiscovered): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(expansion), SUM(discovered_at IS NULL) FROM v1_grants",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((expansions, undiscovered), (0, 0));
}
