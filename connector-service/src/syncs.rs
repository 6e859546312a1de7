//! Syncs: one at a time, started by the schedule or by `POST /v1/syncs`, resumed by the engine
//! after an interruption, cancelled (progress kept) on shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use connector_sdk::{Error, RunId, SyncEngine, SyncEvent};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::error::{ApiError, ApiErrorKind};

/// The sync in flight, if any, and how the syncs this service ran ended.
#[derive(Debug, Default)]
pub(crate) struct Syncs {
    current: Option<Current>,
    /// Errors of syncs that ended without completing, by run.
    errors: BTreeMap<RunId, String>,
}

#[derive(Debug)]
struct Current {
    run: Option<RunId>,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

impl Syncs {
    /// The run in flight.
    pub(crate) fn running(&self) -> Option<RunId> {
        self.current.as_ref().and_then(|c| c.run)
    }

    /// Why `run` ended without completing, when this service ran it.
    pub(crate) fn error(&self, run: RunId) -> Option<String> {
        self.errors.get(&run).cloned()
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Syncs> {
    shared.syncs.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn lock_store_failure(shared: &Shared) -> std::sync::MutexGuard<'_, Option<String>> {
    shared
        .store_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Starts a sync unless one is running; answers with its run once the engine has begun it.
pub(crate) async fn start(shared: &Arc<Shared>) -> Result<RunId, ApiError> {
    let (done_tx, done_rx) = watch::channel(false);
    let cancel = shared.shutdown.child_token();
    {
        let mut syncs = lock(shared);
        if let Some(current) = &syncs.current {
            let which = current.run.map_or_else(
                || "a sync is starting".to_owned(),
                |r| format!("run {r} is running"),
            );
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                ApiErrorKind::SyncInProgress,
                format!("a sync is already in progress: {which}"),
            ));
        }
        syncs.current = Some(Current {
            run: None,
            cancel: cancel.clone(),
            done: done_rx,
        });
    }
    let engine = SyncEngine::new(
        shared.registry.clone(),
        Arc::clone(&shared.store),
        shared
            .config
            .sync
            .clone()
            .with_keep_runs(shared.config.keep_runs),
    );
    let mut events = engine.subscribe();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<Result<RunId, ApiError>>();
    let task_shared = Arc::clone(shared);
    tokio::spawn(async move {
        let began = Instant::now();
        let mut started_tx = Some(started_tx);
        let run = engine.run(&cancel);
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                event = futures::StreamExt::next(&mut events) => {
                    if let Some(SyncEvent::Started { run, .. }) = event {
                        if let Some(current) = lock(&task_shared).current.as_mut() {
                            current.run = Some(run);
                        }
                        if let Some(tx) = started_tx.take() {
                            let _ = tx.send(Ok(run));
                        }
                    }
                }
            }
        };
        finished(&task_shared, result, began, started_tx.take());
        let _ = done_tx.send(true);
    });
    started_rx.await.unwrap_or_else(|_| {
        Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            ApiErrorKind::Internal,
            "the sync task ended before it began",
        ))
    })
}

/// Records how a sync ended: metrics, the error of a run that did not complete, and the slot
/// freed for the next sync.
fn finished(
    shared: &Shared,
    result: Result<connector_sdk::SyncReport, Error>,
    began: Instant,
    unstarted: Option<tokio::sync::oneshot::Sender<Result<RunId, ApiError>>>,
) {
    let seconds = began.elapsed().as_secs_f64();
    let mut syncs = lock(shared);
    let run = syncs.current.as_ref().and_then(|c| c.run);
    // Readiness follows the store: a sync that failed on it (a full disk) makes the service not
    // ready until one completes.
    match &result {
        Ok(_) => *lock_store_failure(shared) = None,
        Err(error @ (Error::Store(_) | Error::OtherFingerprint { .. })) => {
            *lock_store_failure(shared) = Some(format!(
                "the last sync failed on the store: {}",
                connector_sdk::error_chain(error)
            ));
        }
        Err(_) => {}
    }
    match &result {
        Ok(report) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            shared.metrics.ended("completed", seconds);
            shared.metrics.completed(report, now);
            tracing::info!(run = %report.run, seconds, grants = report.counts.total_grants(), "sync completed");
        }
        Err(error) => {
            let outcome = if matches!(error, Error::Cancelled) {
                "cancelled"
            } else {
                "failed"
            };
            shared.metrics.ended(outcome, seconds);
            let message = connector_sdk::error_chain(error);
            tracing::warn!(run = ?run, error = %message, "sync did not complete");
            if let Some(run) = run {
                syncs.errors.insert(run, message);
            }
        }
    }
    syncs.current = None;
    drop(syncs);
    if let (Some(tx), Err(error)) = (unstarted, result) {
        let _ = tx.send(Err(ApiError::from(error)));
    }
}

/// Waits for the sync in flight (if any) to end.
pub(crate) async fn wait(shared: &Shared) {
    let done = lock(shared).current.as_ref().map(|c| c.done.clone());
    if let Some(mut done) = done {
        let _ = done.wait_for(|d| *d).await;
    }
}

/// Cancels the sync in flight, if any; its progress stays in the store.
pub(crate) fn cancel(shared: &Shared) {
    if let Some(current) = &lock(shared).current {
        current.cancel.cancel();
    }
}

/// The first wait after a sync could not start; it doubles on each further failure.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest wait after a sync could not start (never longer than the interval).
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// Syncs at start and then every interval (with jitter), until shutdown. A sync that is already
/// running (started through the API) is waited for, never doubled. A sync that could not start
/// (another process holds the run, the store is full) is tried again after a short backoff (1 s,
/// doubling up to a minute), not after a whole interval.
///
/// Replicas on a shared store (PostgreSQL) share the schedule too: a replica syncs only once its
/// tenant's latest completed run, whoever made it, finished an interval ago.
pub(crate) async fn schedule(shared: Arc<Shared>) {
    let mut retry = RETRY_FIRST;
    loop {
        if shared.shutdown.is_cancelled() {
            return;
        }
        if let Some(wait) = synced_by_a_peer(&shared).await {
            tracing::info!(
                next_in_s = wait.as_secs(),
                "the tenant was synced within the interval (by another replica); waiting"
            );
            tokio::select! {
                () = shared.shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let wait = match start(&shared).await {
            Ok(run) => {
                tracing::info!(%run, "scheduled sync started");
                retry = RETRY_FIRST;
                wait(&shared).await;
                next_wait(shared.config.interval, shared.config.jitter, rand::random())
            }
            Err(e) if e.kind == ApiErrorKind::SyncInProgress && lock(&shared).current.is_some() => {
                // Started through the API: wait for it, then a whole interval.
                wait(&shared).await;
                retry = RETRY_FIRST;
                next_wait(shared.config.interval, shared.config.jitter, rand::random())
            }
            Err(e) => {
                let wait = retry.min(shared.config.interval);
                tracing::warn!(reason = %e.message, retry_in_s = wait.as_secs_f64(), "scheduled sync could not start");
                retry = retry.saturating_mul(2).min(RETRY_MAX);
                wait
            }
        };
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// On a store shared by replicas, how long until the tenant's latest completed run is an
/// interval old; `None` when a sync is due (or the store is one replica's own).
async fn synced_by_a_peer(shared: &Arc<Shared>) -> Option<std::time::Duration> {
    if !shared.store.many_tenants() {
        return None;
    }
    let connector = shared.registry.metadata().id.clone();
    let fingerprint = shared.registry.fingerprint();
    let store = Arc::clone(&shared.store);
    let finished = tokio::task::spawn_blocking(move || {
        store.runs().map(|runs| {
            runs.into_iter()
                .rev()
                .find(|r| {
                    r.connector == connector
                        && r.status == connector_sdk::RunStatus::Completed
                        && fingerprint.matches_stored(&r.fingerprint)
                })
                .and_then(|r| r.finished_at_ms)
        })
    })
    .await
    .ok()?
    .ok()??;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis();
    let age = std::time::Duration::from_millis(
        u64::try_from(now.saturating_sub(u128::try_from(finished).ok()?)).ok()?,
    );
    shared
        .config
        .interval
        .checked_sub(age)
        .filter(|w| !w.is_zero())
}

/// The wait before the next scheduled sync: `interval` plus up to `jitter` of it, `random` in
/// `[0, 1)` choosing how much. Never panics: a jitter outside `[0, 1]` (or NaN) is clamped and the
/// sum saturates.
pub(crate) fn next_wait(
    interval: std::time::Duration,
    jitter: f64,
    random: f64,
) -> std::time::Duration {
    let fraction = (jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0)).max(0.0);
    let extra = std::time::Duration::try_from_secs_f64(interval.as_secs_f64() * fraction)
        .unwrap_or_default();
    interval.saturating_add(extra)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::next_wait;

    #[test]
    fn waits_never_overflow() {
        let hour = Duration::from_secs(3600);
        assert_eq!(next_wait(hour, 0.1, 0.0), hour);
        assert_eq!(next_wait(hour, 0.1, 0.5), Duration::from_secs(3780));
        assert_eq!(next_wait(Duration::MAX, 0.1, 0.99), Duration::MAX);
        assert_eq!(next_wait(hour, f64::NAN, 0.5), hour);
        assert_eq!(next_wait(hour, 7.0, 1.0), hour * 2);
    }
}
