//! The write-ahead journal in PostgreSQL: the `write_intents` table. Its commits wait for the
//! server's disk (`synchronous_commit = on`, whatever the session's default), so a recorded
//! intent survives a killed host, a crashed server and a lost machine alike.

use super::*;
use crate::journal::{
    Intent, IntentDraft, IntentId, IntentOperation, Journal, KEEP_DONE_MS, OpenIntent,
};
use crate::store::now_ms;

fn to_open_intent(row: &tokio_postgres::Row) -> Result<OpenIntent, StoreError> {
    let id: i64 = row.try_get(0).backend()?;
    let corrupt = |what: String| StoreError::Corrupt(format!("write intent {id}: {what}"));
    let text = |i| row.try_get::<_, String>(i).backend();
    let before: Vec<String> = serde_json::from_str(&text(7)?).backend()?;
    let operation = text(5)?;
    let draft = IntentDraft {
        principal: text(3)?
            .parse()
            .map_err(|e| corrupt(format!("principal: {e}")))?,
        entitlement: text(4)?
            .parse()
            .map_err(|e| corrupt(format!("entitlement: {e}")))?,
        operation: IntentOperation::parse(&operation)
            .ok_or_else(|| corrupt(format!("operation {operation:?}")))?,
        attribute: text(6)?,
        before: before
            .iter()
            .map(|r| r.parse().map_err(|e| corrupt(format!("before: {e}"))))
            .collect::<Result<_, _>>()?,
    };
    let holder: Holder = serde_json::from_str(&text(9)?).backend()?;
    let mut intent =
        Intent::new(text(1)?, text(2)?, draft, holder).with_actor(row.try_get(8).backend()?);
    intent.started_at_ms = row.try_get(10).backend()?;
    Ok(OpenIntent {
        id: IntentId::from_raw(id),
        intent,
    })
}

impl PostgresStore {
    /// A transaction whose commit waits for the server's disk (the store's connections do not
    /// by default): an intent must outlive a crash of the server too.
    async fn durable(
        client: &mut deadpool_postgres::Object,
    ) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
        let tx = client.transaction().await.backend()?;
        tx.batch_execute("SET LOCAL synchronous_commit = on")
            .await
            .backend()?;
        Ok(tx)
    }
}

impl Journal for PostgresStore {
    fn record_intent(&self, intent: &Intent) -> Result<IntentId, StoreError> {
        let draft = &intent.draft;
        let before: Vec<String> = draft.before.iter().map(ToString::to_string).collect();
        let before = serde_json::to_string(&before).backend()?;
        let holder = serde_json::to_string(&intent.holder).backend()?;
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = Self::durable(&mut client).await?;
            tx.execute(
                "DELETE FROM write_intents WHERE finished_at_ms < $1",
                &[&now_ms().saturating_sub(KEEP_DONE_MS)],
            )
            .await
            .backend()?;
            let row = tx
                .query_one(
                    "INSERT INTO write_intents (connector, fingerprint, principal, entitlement,
                         operation, attribute, before, actor, holder, started_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    &[
                        &intent.connector,
                        &intent.fingerprint,
                        &draft.principal.to_string(),
                        &draft.entitlement.to_string(),
                        &draft.operation.as_str(),
                        &draft.attribute,
                        &before,
                        &intent.actor,
                        &holder,
                        &intent.started_at_ms,
                    ],
                )
                .await
                .backend()?;
            tx.commit().await.backend()?;
            Ok(IntentId::from_raw(row.try_get(0).backend()?))
        })
    }

    fn close_intent(&self, id: IntentId, resolution: &str) -> Result<(), StoreError> {
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = Self::durable(&mut client).await?;
            tx.execute(
                "UPDATE write_intents SET finished_at_ms = $2, resolution = $3
                 WHERE id = $1 AND finished_at_ms IS NULL",
                &[&id.raw(), &now_ms(), &resolution],
            )
            .await
            .backend()?;
            tx.commit().await.backend()
        })
    }

    fn open_intents(&self, connector: &str) -> Result<Vec<OpenIntent>, StoreError> {
        self.block_on(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT id, connector, fingerprint, principal, entitlement, operation,
                         attribute, before, actor, holder, started_at_ms
                     FROM write_intents
                     WHERE connector = $1 AND finished_at_ms IS NULL ORDER BY id",
                    &[&connector],
                )
                .await
                .backend()?;
            rows.iter().map(to_open_intent).collect()
        })
    }
}
