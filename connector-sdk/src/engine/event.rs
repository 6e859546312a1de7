//! Progress events and the final report.

use std::time::Duration;

use serde::Serialize;

use crate::model::ResourceTypeId;
use crate::model::Stage;
use crate::store::{IntegrityIssue, RunCounts, RunId};

/// Running totals of what this process did in a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct Progress {
    /// Pages stored.
    pub pages: u64,
    /// Resources stored.
    pub resources: u64,
    /// Entitlements stored.
    pub entitlements: u64,
    /// Grants stored.
    pub grants: u64,
    /// Calls retried after a transient error.
    pub retries: u64,
    /// Waits after a rate-limit error.
    pub rate_limit_waits: u64,
    /// Time spent in those waits and backoffs, summed over workers.
    pub waited: Duration,
}

/// A progress event. Subscribe with [`super::SyncEngine::subscribe`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// A run started or resumed.
    Started {
        /// The run.
        run: RunId,
        /// Whether an unfinished run was resumed.
        resumed: bool,
    },
    /// The engine moved to a stage.
    StageStarted {
        /// The stage.
        stage: Stage,
    },
    /// A page was stored.
    PageStored {
        /// Its stage.
        stage: Stage,
        /// The syncer's resource type.
        resource_type: ResourceTypeId,
        /// Totals so far.
        progress: Progress,
    },
    /// A call failed transiently and will be retried.
    Retrying {
        /// The stage.
        stage: Stage,
        /// The syncer's resource type.
        resource_type: ResourceTypeId,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// The backoff before the next attempt.
        delay: Duration,
        /// The error, as text.
        error: String,
    },
    /// The upstream service rate-limited a call; the engine waits and retries.
    RateLimited {
        /// The stage.
        stage: Stage,
        /// The syncer's resource type.
        resource_type: ResourceTypeId,
        /// The wait.
        wait: Duration,
    },
    /// A warning was recorded.
    Warning {
        /// The warning.
        message: String,
    },
    /// The run completed.
    Completed {
        /// Totals.
        progress: Progress,
    },
}

/// The outcome of a completed sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// The run.
    pub run: RunId,
    /// Whether an unfinished run was resumed.
    pub resumed: bool,
    /// What this process did (a resumed run's earlier pages are not included).
    pub progress: Progress,
    /// What the run stored in all.
    pub counts: RunCounts,
    /// Warnings recorded during the run, integrity violations included in warn mode.
    pub warnings: Vec<String>,
    /// Integrity violations (warn mode), the first few of `integrity_violations`.
    pub integrity_issues: Vec<IntegrityIssue>,
    /// How many grants failed an integrity check (warn mode).
    pub integrity_violations: u64,
    /// Wall time of this process's part of the run.
    pub duration: Duration,
}
