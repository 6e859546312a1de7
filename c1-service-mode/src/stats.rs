//! What the task loop counts and remembers: tasks by type and outcome, polls, uploads, when
//! ConductorOne last answered and when the loop last turned (readiness and liveness).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// Buckets of task durations, in seconds: a grant takes well under a second, a sync minutes.
const DURATION_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0, 600.0, 3600.0];

fn histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

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

/// Ready while a poll was answered within this many poll intervals (plus a call's deadline).
const READY_POLLS: u32 = 3;
/// Never less than this, whatever the poll interval.
const READY_FLOOR: Duration = Duration::from_secs(30);

/// Counters and clocks of the task loop, as Prometheus metrics ([`TaskStats::register`]).
#[derive(Debug)]
pub struct TaskStats {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    tasks: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    polls: Counter,
    poll_failures: Counter,
    upload_bytes: Counter,
    upload_chunks: Counter,
    last_sync: Gauge<f64, AtomicU64>,
    clocks: Mutex<Clocks>,
    liveness_bound: Duration,
    call_deadline: Duration,
}

#[derive(Debug)]
struct Clocks {
    /// The last poll ConductorOne answered, and the wait it asked for then.
    answered: Option<(Instant, Duration)>,
    /// The last time the loop (or a task) showed progress.
    turned: Instant,
    /// The end of the last sync that was uploaded.
    synced: Option<SystemTime>,
}

impl Default for TaskStats {
    fn default() -> Self {
        Self::new(crate::LIVENESS_BOUND, Duration::from_secs(60))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TaskStats {
    pub(crate) fn new(liveness_bound: Duration, call_deadline: Duration) -> Self {
        Self {
            counts: Mutex::default(),
            tasks: Family::default(),
            durations: Family::new_with_constructor(histogram),
            polls: Counter::default(),
            poll_failures: Counter::default(),
            upload_bytes: Counter::default(),
            upload_chunks: Counter::default(),
            last_sync: Gauge::default(),
            clocks: Mutex::new(Clocks {
                answered: None,
                turned: Instant::now(),
                synced: None,
            }),
            liveness_bound,
            call_deadline,
        }
    }

    /// Registers the metrics in `registry`: `c1_tasks_total{type,outcome}`,
    /// `c1_task_duration_seconds{type}`, `c1_polls_total`, `c1_poll_failures_total`,
    /// `c1_upload_bytes_total`, `c1_upload_chunks_total` and
    /// `c1_last_sync_success_timestamp_seconds`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "c1_tasks",
            "Tasks finished, by type and outcome",
            self.tasks.clone(),
        );
        registry.register(
            "c1_task_duration_seconds",
            "How long tasks took, from receipt to FinishTask, by type",
            self.durations.clone(),
        );
        registry.register("c1_polls", "GetTask calls", self.polls.clone());
        registry.register(
            "c1_poll_failures",
            "GetTask calls that failed",
            self.poll_failures.clone(),
        );
        registry.register(
            "c1_upload_bytes",
            "Bytes of sync files uploaded",
            self.upload_bytes.clone(),
        );
        registry.register(
            "c1_upload_chunks",
            "Chunks of sync files uploaded",
            self.upload_chunks.clone(),
        );
        registry.register(
            "c1_last_sync_success_timestamp_seconds",
            "When the last sync was uploaded, in seconds since the Unix epoch",
            self.last_sync.clone(),
        );
    }

    pub(crate) fn count(&self, task_type: &'static str, outcome: &'static str) {
        *lock(&self.counts).entry((task_type, outcome)).or_default() += 1;
        self.tasks
            .get_or_create(&vec![("type", task_type), ("outcome", outcome)])
            .inc();
    }

    /// A task of `task_type` took `took`, whatever its outcome.
    pub(crate) fn took(&self, task_type: &'static str, took: Duration) {
        self.durations
            .get_or_create(&vec![("type", task_type)])
            .observe(took.as_secs_f64());
    }

    /// A poll ended: answered (with the wait ConductorOne asked for), or failed.
    pub(crate) fn polled(&self, answered: Option<Duration>) {
        self.polls.inc();
        let mut clocks = lock(&self.clocks);
        clocks.turned = Instant::now();
        match answered {
            Some(wait) => clocks.answered = Some((Instant::now(), wait)),
            None => {
                self.poll_failures.inc();
            }
        }
    }

    /// The loop or a task moved (a call answered or given up, a heartbeat, a chunk).
    pub(crate) fn tick(&self) {
        lock(&self.clocks).turned = Instant::now();
    }

    /// One upload chunk of `bytes` was taken.
    pub(crate) fn uploaded(&self, bytes: usize) {
        self.upload_bytes.inc_by(bytes as u64);
        self.upload_chunks.inc();
        self.tick();
    }

    /// A sync was uploaded now.
    pub(crate) fn synced(&self) {
        let now = SystemTime::now();
        lock(&self.clocks).synced = Some(now);
        self.last_sync.set(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
    }

    /// Tasks finished, by type and outcome, in name order.
    pub fn tasks(&self) -> Vec<TaskCount> {
        lock(&self.counts)
            .iter()
            .map(|((task_type, outcome), count)| TaskCount {
                task_type,
                outcome,
                count: *count,
            })
            .collect()
    }

    /// Whether ConductorOne answered a poll lately: within three of the poll intervals it asked
    /// for, plus a call's deadline, and never less than 30 s. `Err` says why not.
    pub fn ready(&self) -> Result<(), String> {
        match lock(&self.clocks).answered {
            None => Err("ConductorOne has not answered a poll yet".into()),
            Some((at, wait)) => {
                let window = (wait * READY_POLLS + self.call_deadline).max(READY_FLOOR);
                let age = at.elapsed();
                if age <= window {
                    Ok(())
                } else {
                    Err(format!(
                        "ConductorOne last answered a poll {} s ago (ready within {} s)",
                        age.as_secs(),
                        window.as_secs()
                    ))
                }
            }
        }
    }

    /// Whether the task loop (or a task) moved within the liveness bound (10 min by default:
    /// longer than any wait of the loop). `Err` says how long it has been still.
    pub fn live(&self) -> Result<(), String> {
        let still = lock(&self.clocks).turned.elapsed();
        if still <= self.liveness_bound {
            Ok(())
        } else {
            Err(format!(
                "the task loop has not moved for {} s (bound {} s)",
                still.as_secs(),
                self.liveness_bound.as_secs()
            ))
        }
    }

    /// Whether the last poll was answered within the readiness window.
    pub fn connected(&self) -> bool {
        self.ready().is_ok()
    }

    /// Polls made, and how many failed.
    pub fn polls(&self) -> (u64, u64) {
        (self.polls.get(), self.poll_failures.get())
    }

    /// Bytes and chunks uploaded.
    pub fn uploads(&self) -> (u64, u64) {
        (self.upload_bytes.get(), self.upload_chunks.get())
    }

    /// When the last sync was uploaded.
    pub fn last_sync(&self) -> Option<SystemTime> {
        lock(&self.clocks).synced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_follows_the_poll_interval_and_live_follows_the_loop() {
        let stats = TaskStats::new(Duration::from_millis(100), Duration::ZERO);
        assert_eq!(
            stats.ready(),
            Err("ConductorOne has not answered a poll yet".into())
        );
        stats.polled(Some(Duration::from_secs(1)));
        assert_eq!(stats.ready(), Ok(()));
        // An answer 40 s ago with a 10 s interval is within 3 × 10 s + 0 only if fresh.
        lock(&stats.clocks).answered = Some((
            Instant::now() - Duration::from_secs(40),
            Duration::from_secs(10),
        ));
        assert_eq!(
            stats.ready(),
            Err("ConductorOne last answered a poll 40 s ago (ready within 30 s)".into())
        );
        stats.polled(None);
        assert!(
            stats.ready().is_err(),
            "a failed poll does not make it ready"
        );
        assert_eq!(stats.polls(), (2, 1));
        assert_eq!(stats.live(), Ok(()));
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            stats
                .live()
                .unwrap_err()
                .starts_with("the task loop has not moved for")
        );
        stats.tick();
        assert_eq!(stats.live(), Ok(()));
    }
}
