//! The schema: versioned migrations, each applied once, in one transaction, under an advisory
//! lock so that hosts starting together neither race nor apply one twice.

use super::*;

/// The migrations, in order: (version, what it does, SQL). A migration never changes once
/// released; a new shape is a new migration.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "runs, rows, work queue, journal, learned",
    include_str!("schema.sql"),
)];

/// The newest version this build knows, as [`StoreError::SchemaVersion`] reports it.
const SUPPORTED: &str = "1";

/// The advisory lock every migrating host takes (the two keys of `pg_advisory_xact_lock`).
const MIGRATION_LOCK: (i32, i32) = (0x6364_6b00, 1);

impl PostgresStore {
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.backend()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
        )
        .await
        .backend()?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
             CREATE TABLE IF NOT EXISTS \"{schema}\".store_migrations (
                 version       INTEGER PRIMARY KEY,
                 description   TEXT    NOT NULL,
                 applied_at_ms BIGINT  NOT NULL
             );",
            schema = self.schema
        ))
        .await
        .backend()?;
        let applied: Option<i32> = tx
            .query_one("SELECT MAX(version) FROM store_migrations", &[])
            .await
            .backend()?
            .try_get(0)
            .backend()?;
        let applied = applied.unwrap_or(0);
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        if applied > newest {
            return Err(StoreError::SchemaVersion {
                found: applied.to_string(),
                supported: SUPPORTED,
            });
        }
        for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
            tx.batch_execute(sql).await.backend()?;
            tx.execute(
                "INSERT INTO store_migrations (version, description, applied_at_ms)
                 VALUES ($1, $2, $3)",
                &[version, description, &super::super::now_ms()],
            )
            .await
            .backend()?;
            tracing::info!(
                target: "connector_sdk::store",
                version,
                description,
                schema = %self.schema,
                "PostgreSQL store migrated"
            );
        }
        tx.commit().await.backend()
    }
}
