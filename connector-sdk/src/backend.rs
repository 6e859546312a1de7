//! For store backends: the engine's work-queue protocol.
//!
//! A host never needs this module: it opens a [`SqliteStore`](crate::SqliteStore) (or a
//! [`MemoryStore`](crate::MemoryStore)), hands it to the [`SyncEngine`](crate::SyncEngine) and
//! reads results through [`Store`](crate::Store). A crate that stores runs somewhere else
//! implements [`Store`](crate::Store) for the queries and [`WorkQueue`] for the engine, and can
//! check itself against the two built-in stores with the same engine tests.
//!
//! The engine's contract with a backend, in order: [`WorkQueue::begin_run`] (resume, take over or
//! start, atomically), then [`WorkQueue::claim_work`] and [`WorkQueue::commit_page`] until no work
//! is left (each commit stores a page's rows, enqueues the work it found and deletes the finished
//! item in one transaction), [`WorkQueue::heartbeat`] all along, then [`WorkQueue::seal_run`] and
//! [`WorkQueue::finish_run`]; [`WorkQueue::release_run`] when the sync stops early but may resume.

pub use crate::store::{
    BeginRun, Begun, NewWork, PageCommit, WorkId, WorkItem, WorkKind, WorkQueue,
};
