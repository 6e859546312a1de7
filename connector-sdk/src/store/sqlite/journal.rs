//! The write-ahead journal in SQLite: the `write_intents` table.

use super::*;
use crate::journal::{
    Intent, IntentDraft, IntentId, IntentOperation, Journal, KEEP_DONE_MS, OpenIntent,
};

const INTENT_COLUMNS: &str = "id, connector, fingerprint, principal, entitlement, operation, \
     attribute, before, actor, holder, started_at_ms";

impl SqliteStore {
    /// Runs `body` with `synchronous=FULL`: the journal's rows reach the disk before the call
    /// returns, so neither a killed process nor a lost machine forgets an intent.
    fn durably<T>(
        &self,
        body: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.conn()?;
        conn.pragma_update(None, "synchronous", "FULL").backend()?;
        let value = body(&conn);
        let restored = conn.pragma_update(None, "synchronous", "NORMAL").backend();
        let value = value?;
        restored?;
        Ok(value)
    }
}

/// A `write_intents` row as read.
struct IntentRow {
    id: i64,
    connector: String,
    fingerprint: String,
    principal: String,
    entitlement: String,
    operation: String,
    attribute: String,
    before: String,
    actor: Option<String>,
    holder: String,
    started_at_ms: i64,
}

impl IntentRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            connector: row.get(1)?,
            fingerprint: row.get(2)?,
            principal: row.get(3)?,
            entitlement: row.get(4)?,
            operation: row.get(5)?,
            attribute: row.get(6)?,
            before: row.get(7)?,
            actor: row.get(8)?,
            holder: row.get(9)?,
            started_at_ms: row.get(10)?,
        })
    }

    fn into_open_intent(self) -> Result<OpenIntent, StoreError> {
        let corrupt =
            |what: String| StoreError::Corrupt(format!("write intent {}: {what}", self.id));
        let before: Vec<String> = serde_json::from_str(&self.before).backend()?;
        let draft = IntentDraft {
            principal: self
                .principal
                .parse()
                .map_err(|e| corrupt(format!("principal: {e}")))?,
            entitlement: self
                .entitlement
                .parse()
                .map_err(|e| corrupt(format!("entitlement: {e}")))?,
            operation: IntentOperation::parse(&self.operation)
                .ok_or_else(|| corrupt(format!("operation {:?}", self.operation)))?,
            attribute: self.attribute.clone(),
            before: before
                .iter()
                .map(|r| r.parse().map_err(|e| corrupt(format!("before: {e}"))))
                .collect::<Result<_, _>>()?,
        };
        let holder: Holder = serde_json::from_str(&self.holder).backend()?;
        let mut intent =
            Intent::new(self.connector, self.fingerprint, draft, holder).with_actor(self.actor);
        intent.started_at_ms = self.started_at_ms;
        Ok(OpenIntent {
            id: IntentId::from_raw(self.id),
            intent,
        })
    }
}

impl Journal for SqliteStore {
    fn record_intent(&self, intent: &Intent) -> Result<IntentId, StoreError> {
        let draft = &intent.draft;
        let before: Vec<String> = draft.before.iter().map(ToString::to_string).collect();
        let before = serde_json::to_string(&before).backend()?;
        let holder = serde_json::to_string(&intent.holder).backend()?;
        self.durably(|conn| {
            conn.execute(
                "DELETE FROM write_intents WHERE finished_at_ms < ?1",
                [now_ms().saturating_sub(KEEP_DONE_MS)],
            )
            .backend()?;
            conn.execute(
                "INSERT INTO write_intents (connector, fingerprint, principal, entitlement,
                     operation, attribute, before, actor, holder, started_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    intent.connector,
                    intent.fingerprint,
                    draft.principal.to_string(),
                    draft.entitlement.to_string(),
                    draft.operation.as_str(),
                    draft.attribute,
                    before,
                    intent.actor,
                    holder,
                    intent.started_at_ms
                ],
            )
            .backend()?;
            Ok(IntentId::from_raw(conn.last_insert_rowid()))
        })
    }

    fn close_intent(&self, id: IntentId, resolution: &str) -> Result<(), StoreError> {
        self.durably(|conn| {
            conn.execute(
                "UPDATE write_intents SET finished_at_ms = ?2, resolution = ?3
                 WHERE id = ?1 AND finished_at_ms IS NULL",
                params![id.raw(), now_ms(), resolution],
            )
            .backend()?;
            Ok(())
        })
    }

    fn open_intents(&self, connector: &str) -> Result<Vec<OpenIntent>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INTENT_COLUMNS} FROM write_intents
                 WHERE connector = ?1 AND finished_at_ms IS NULL ORDER BY id"
            ))
            .backend()?;
        let rows = stmt.query_map([connector], IntentRow::read).backend()?;
        let mut open = Vec::new();
        for row in rows {
            open.push(row.backend()?.into_open_intent()?);
        }
        Ok(open)
    }
}
