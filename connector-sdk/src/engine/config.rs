//! Engine configuration.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::RetryPolicy;

/// What the engine does with grants that fail an integrity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IntegrityMode {
    /// Fail the sync (the default). The run is marked failed; the rows stay for inspection.
    #[default]
    Error,
    /// Complete the sync and record each violation as a warning. The grants stay stored.
    Warn,
}

/// How the engine runs a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncConfig {
    /// Connector calls in flight at once. Memory is bounded by this times the page size.
    pub workers: usize,
    /// The retry policy for every connector call.
    pub retry: RetryPolicy,
    /// What to do with grants that fail an integrity check.
    pub integrity: IntegrityMode,
    /// Resume the connector's latest run when it did not finish, has the same fingerprint and is
    /// young enough (the default), instead of starting a new one.
    pub resume: bool,
    /// An unfinished run started longer ago than this is not resumed. Default 7 days.
    pub max_resume_age: Duration,
    /// How old a holder's heartbeat may be before another engine takes its run over. The engine
    /// beats four times per period. Default 60 s.
    pub lease_ttl: Duration,
    /// How many progress events a slow subscriber may fall behind before it misses some.
    pub event_capacity: usize,
    /// After a run completes, the connector's older runs are pruned ([`crate::Store::prune`])
    /// so that this many completed runs are kept; `None` (the default) keeps every run. A host
    /// that syncs on a schedule sets it (the service keeps 2: the latest and the one before,
    /// for a diff), so its store does not grow without end.
    pub keep_runs: Option<NonZeroUsize>,
    /// Whether a sync may go into a store whose latest completed run has another fingerprint
    /// (another tenant, other settings). Off by default: a store holds one tenant, and such a
    /// sync is refused with [`crate::Error::OtherFingerprint`].
    pub fingerprint_change: bool,
    /// Sync only these resource types (`None`, the default: every registered one). Rows of
    /// other types are left out, grants included: a grant is kept only when both its
    /// entitlement's and its principal's types are synced. A run with a selection has its own
    /// fingerprint (the tenant's, with the selection), so it never resumes a full run nor a
    /// full run it; the check that a store holds one tenant compares the tenant part only.
    pub resource_types: Option<std::collections::BTreeSet<crate::model::ResourceTypeId>>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            retry: RetryPolicy::default(),
            integrity: IntegrityMode::Error,
            resume: true,
            max_resume_age: Duration::from_secs(7 * 24 * 3600),
            lease_ttl: Duration::from_secs(60),
            event_capacity: 1024,
            keep_runs: None,
            fingerprint_change: false,
            resource_types: None,
        }
    }
}

impl SyncConfig {
    /// Sets the worker count (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Sets how many completed runs are kept (`None`: all).
    pub fn with_keep_runs(mut self, keep: Option<NonZeroUsize>) -> Self {
        self.keep_runs = keep;
        self
    }

    /// Lets a sync go into a store whose latest completed run has another fingerprint.
    pub fn with_fingerprint_change(mut self, allow: bool) -> Self {
        self.fingerprint_change = allow;
        self
    }

    /// Syncs only `types` (see [`SyncConfig::resource_types`]); `None` syncs every type.
    pub fn with_resource_types(
        mut self,
        types: Option<std::collections::BTreeSet<crate::model::ResourceTypeId>>,
    ) -> Self {
        self.resource_types = types;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the integrity mode.
    pub fn with_integrity(mut self, integrity: IntegrityMode) -> Self {
        self.integrity = integrity;
        self
    }

    /// Sets whether an unfinished run is resumed (`false`: always start a fresh run).
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Sets the age past which an unfinished run is not resumed.
    pub fn with_max_resume_age(mut self, age: Duration) -> Self {
        self.max_resume_age = age;
        self
    }

    /// Sets how old a heartbeat may be before another engine takes the run over (at least 1 s).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_secs(1));
        self
    }
}
