//! [`WriteJournal`]: a journal bound to one registration (its connector, tenant and process),
//! and the [`IntentGuard`] a connector holds while its write is under way.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use super::{Intent, IntentDraft, IntentId, Journal, OpenIntent};
use crate::error::ConnectorError;
use crate::store::{Holder, StoreError};

/// The intents this process has under way, by the holder id of the journal that recorded them:
/// one set for the process, so no registration repairs a write another one is still making.
static IN_FLIGHT: LazyLock<Mutex<HashSet<(String, IntentId)>>> = LazyLock::new(Default::default);

fn in_flight() -> MutexGuard<'static, HashSet<(String, IntentId)>> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A [`Journal`] bound to one registration: the connector id, the tenant (fingerprint) and this
/// process. Cheap to clone. The process knows which intents it has under way, so a repair
/// never touches a write that is still running here.
#[derive(Clone)]
pub struct WriteJournal {
    inner: Arc<Inner>,
}

struct Inner {
    journal: Arc<dyn Journal>,
    connector: String,
    fingerprint: crate::Fingerprint,
    holder: Holder,
}

impl std::fmt::Debug for WriteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteJournal")
            .field("connector", &self.inner.connector)
            .field("holder", &self.inner.holder.id)
            .finish_non_exhaustive()
    }
}

fn store_failed(what: &str, error: StoreError) -> ConnectorError {
    ConnectorError::fatal_with(format!("the write journal failed: {what}"), error)
}

impl WriteJournal {
    /// `journal` for the connector `connector` on the tenant `fingerprint`, written by this
    /// process.
    pub fn new(
        journal: Arc<dyn Journal>,
        connector: impl Into<String>,
        fingerprint: crate::Fingerprint,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                journal,
                connector: connector.into(),
                fingerprint,
                holder: Holder::current(),
            }),
        }
    }

    /// The tenant this journal records writes to.
    pub fn fingerprint(&self) -> &crate::Fingerprint {
        &self.inner.fingerprint
    }

    /// This process, as its intents name it.
    pub fn holder(&self) -> &Holder {
        &self.inner.holder
    }

    /// Records `draft` durably before the write's first request; the guard marks it done.
    pub async fn begin(
        &self,
        draft: IntentDraft,
        actor: Option<String>,
    ) -> Result<IntentGuard, ConnectorError> {
        let intent = Intent::new(
            &self.inner.connector,
            self.inner.fingerprint.encode(),
            draft,
            self.inner.holder.clone(),
        )
        .with_actor(actor);
        // The intent is under way from the moment it is visible: a repair that lists it waits
        // for the lock and sees it in flight.
        let inner = self.inner.clone();
        let id = blocking(move || {
            let mut running = in_flight();
            let id = inner.journal.record_intent(&intent)?;
            running.insert((inner.holder.id.clone(), id));
            Ok(id)
        })
        .await
        .map_err(|e| store_failed("the intent could not be recorded; nothing was written", e))?;
        Ok(IntentGuard {
            journal: Some(self.clone()),
            id: Some(id),
        })
    }

    /// The open intents of this connector, any tenant, oldest first.
    pub(crate) async fn open(&self) -> Result<Vec<OpenIntent>, StoreError> {
        let journal = self.inner.journal.clone();
        let connector = self.inner.connector.clone();
        blocking(move || journal.open_intents(&connector)).await
    }

    /// Marks `id` done with `resolution`.
    pub(crate) async fn close(&self, id: IntentId, resolution: String) -> Result<(), StoreError> {
        let journal = self.inner.journal.clone();
        blocking(move || journal.close_intent(id, &resolution)).await
    }

    /// Whether `intent` is a write this process has under way.
    pub(crate) fn is_running_here(intent: &OpenIntent) -> bool {
        in_flight().contains(&(intent.intent.holder.id.clone(), intent.id))
    }

    fn finished(&self, id: IntentId) {
        in_flight().remove(&(self.inner.holder.id.clone(), id));
    }
}

/// Runs a journal call on a blocking thread.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|e| Err(StoreError::Backend(Box::new(e))))
}

/// A recorded intent while its write is under way. [`IntentGuard::done`] marks it done after
/// the verifying read; a guard dropped without it leaves the intent open, to be repaired.
#[derive(Debug)]
#[must_use = "an intent not marked done is repaired as interrupted"]
pub struct IntentGuard {
    journal: Option<WriteJournal>,
    id: Option<IntentId>,
}

impl IntentGuard {
    /// A guard with nothing recorded (no journal is attached).
    pub(crate) fn unrecorded() -> Self {
        Self {
            journal: None,
            id: None,
        }
    }

    /// The intent's id, when one was recorded.
    pub fn id(&self) -> Option<IntentId> {
        self.id
    }

    /// Marks the intent done: the write finished and its verifying read shows the intended
    /// state (or the state before it). A failure to mark it leaves the intent open, and the
    /// next repair finds the state already right.
    pub async fn done(mut self) -> Result<(), ConnectorError> {
        if let (Some(journal), Some(id)) = (self.journal.take(), self.id.take()) {
            let closed = journal.close(id, "completed".to_owned()).await;
            journal.finished(id);
            closed.map_err(|e| store_failed("the intent could not be marked done", e))?;
        }
        Ok(())
    }
}

impl Drop for IntentGuard {
    fn drop(&mut self) {
        if let (Some(journal), Some(id)) = (&self.journal, self.id) {
            journal.finished(id);
        }
    }
}
