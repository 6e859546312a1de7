//! Engine configuration.

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
    /// Resume the connector's latest run when it did not finish (the default), instead of
    /// starting a new one.
    pub resume: bool,
    /// How many progress events a slow subscriber may fall behind before it misses some.
    pub event_capacity: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            retry: RetryPolicy::default(),
            integrity: IntegrityMode::Error,
            resume: true,
            event_capacity: 1024,
        }
    }
}

impl SyncConfig {
    /// Sets the worker count (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
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

    /// Sets whether an unfinished run is resumed.
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }
}
