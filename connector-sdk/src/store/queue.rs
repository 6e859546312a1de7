//! The engine's side of a store: beginning, holding and finishing runs, and the queue of work
//! each page leaves behind.

use super::lease::{BeginRun, Begun};
use super::work::{PageCommit, WorkItem};
use super::{RunId, RunStatus, Store, StoreError};

/// The work-queue protocol the [`SyncEngine`](crate::SyncEngine) drives a store through.
///
/// Hosts never call these methods: they query through [`Store`]. A backend implements both
/// traits; [`SqliteStore`](crate::SqliteStore) and [`MemoryStore`](crate::MemoryStore) do.
///
/// An implementation must apply each [`PageCommit`] atomically, and make
/// [`WorkQueue::begin_run`] atomic against other engines on the same store (other processes
/// included, for a file).
pub trait WorkQueue: Store {
    /// Begins a sync, atomically: when an unfinished run of the connector is held by another
    /// engine whose heartbeat is fresh, fails with [`StoreError::InProgress`]; when the latest
    /// unfinished run may be resumed (same fingerprint, young enough, resume allowed), takes it
    /// over and makes its claimed work claimable again; otherwise marks the unfinished runs
    /// failed (saying why) and starts a new run with `begin`'s resource types and work. The
    /// caller holds the run it gets, with a fresh heartbeat.
    fn begin_run(&self, begin: &BeginRun<'_>) -> Result<Begun, StoreError>;

    /// Records a heartbeat of `lease` (the holder id) on `run`; [`StoreError::LeaseLost`] when
    /// another engine holds it now.
    fn heartbeat(&self, run: RunId, lease: &str) -> Result<(), StoreError>;

    /// Gives `run` up without finishing it (cancelled, or stopped by an error a later sync may
    /// get past): it stays resumable and no one holds it.
    fn release_run(&self, run: RunId, lease: &str) -> Result<(), StoreError>;

    /// Claims up to `limit` unclaimed work items of the lowest stage that still has unfinished
    /// (claimed or unclaimed) items. Items of a later stage are not handed out while an item of an
    /// earlier stage is unfinished. [`StoreError::LeaseLost`] unless `lease` holds the run.
    fn claim_work(
        &self,
        run: RunId,
        lease: &str,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError>;

    /// Stores a page's rows, enqueues its new work and deletes the finished item, atomically. A
    /// new work item whose token was already handed out for the same listing fails the whole
    /// commit with [`StoreError::TokenRepeated`]; a caller that no longer holds the run fails it
    /// with [`StoreError::LeaseLost`].
    fn commit_page(&self, run: RunId, lease: &str, commit: &PageCommit) -> Result<(), StoreError>;

    /// Makes everything stored for `run` queryable. The engine calls it once no work is left,
    /// before the integrity check. Until then a store may keep grants out of sight of some query
    /// methods (the SQLite store builds its grants-by-entitlement table here, in one sorted pass).
    fn seal_run(&self, run: RunId) -> Result<(), StoreError>;

    /// Ends `run` with `status` (completed or failed, with the reason), drops its pending work
    /// and its holder.
    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        failure: Option<&str>,
    ) -> Result<(), StoreError>;

    /// What the connector learned of the tenant `fingerprint` (see
    /// [`Connector::learned`](crate::Connector::learned)) and when it was stored, in
    /// milliseconds since the Unix epoch. A store that keeps nothing answers `None`.
    fn learned(
        &self,
        connector: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let _ = (connector, fingerprint);
        Ok(None)
    }

    /// Keeps what the connector learned of the tenant `fingerprint`, replacing what was kept.
    fn set_learned(
        &self,
        connector: &str,
        fingerprint: &str,
        learned: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let _ = (connector, fingerprint, learned, at_ms);
        Ok(())
    }
}
