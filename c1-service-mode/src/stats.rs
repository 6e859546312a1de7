//! What the task loop counts: tasks by type and outcome, and whether ConductorOne answers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Tasks finished, by type and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCount {
    /// The task type, such as `grant`.
    pub task_type: &'static str,
    /// `succeeded`, `failed`, `cancelled` or `refused`.
    pub outcome: &'static str,
    /// How many.
    pub count: u64,
}

/// Counters of the task loop.
#[derive(Debug, Default)]
pub struct TaskStats {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    connected: AtomicBool,
    polls: AtomicU64,
    poll_failures: AtomicU64,
}

impl TaskStats {
    pub(crate) fn count(&self, task_type: &'static str, outcome: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((task_type, outcome))
            .or_default() += 1;
    }

    pub(crate) fn polled(&self, ok: bool) {
        self.connected.store(ok, Ordering::Relaxed);
        self.polls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.poll_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Tasks finished, by type and outcome, in name order.
    pub fn tasks(&self) -> Vec<TaskCount> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((task_type, outcome), count)| TaskCount {
                task_type,
                outcome,
                count: *count,
            })
            .collect()
    }

    /// Whether the last poll was answered (false before the first).
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Polls made, and how many failed.
    pub fn polls(&self) -> (u64, u64) {
        (
            self.polls.load(Ordering::Relaxed),
            self.poll_failures.load(Ordering::Relaxed),
        )
    }
}
