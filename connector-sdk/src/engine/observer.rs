//! [`PageObserver`]: the rows of each page, handed on as the engine stores them.

use crate::model::{Entitlement, Grant, Resource};
use crate::store::RunId;

/// Receives the rows of every page a sync stores, right after the store accepted them, so a
/// host can build something from a run while it is still being fetched (a `.c1z` written
/// during a rate-limited sync, a search index) rather than read the run back afterwards.
///
/// The engine calls these methods on its own task: each must return at once (hand the page to
/// a thread through a bounded channel, and give up rather than wait when it is full). An
/// observer saw a whole run only when [`started`](Self::started) said the run was not resumed
/// and [`drained`](Self::drained) was called for it: a resumed run's earlier pages were stored
/// before the observer was there, and a sync that fails is never drained.
pub trait PageObserver: Send + Sync {
    /// A run started (`resumed`: pages stored by an earlier sync are not handed on).
    fn started(&self, run: RunId, resumed: bool);

    /// A page of `run` was stored.
    fn stored(&self, run: RunId, page: StoredPage);

    /// Every page of `run` was stored and handed on; the run is sealed and checked next, and
    /// completes only if that succeeds (the sync's result says).
    fn drained(&self, run: RunId);
}

/// The rows one stored page held, as the store took them: resources and entitlements replace
/// rows with the same id, a grant already stored is kept.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct StoredPage {
    /// Resources, with their parents filled in as stored.
    pub resources: Vec<Resource>,
    /// Entitlements.
    pub entitlements: Vec<Entitlement>,
    /// Grants.
    pub grants: Vec<Grant>,
}

impl StoredPage {
    /// A page of these rows (for observers' tests; the engine makes them as it stores pages).
    pub fn new(
        resources: Vec<Resource>,
        entitlements: Vec<Entitlement>,
        grants: Vec<Grant>,
    ) -> Self {
        Self {
            resources,
            entitlements,
            grants,
        }
    }
}
