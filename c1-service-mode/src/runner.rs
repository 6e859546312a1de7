//! The task loop: Hello, then GetTask honouring `next_poll`, tasks run concurrently up to the
//! configured number, failures retried with capped exponential backoff and jitter, and a
//! shutdown that stops polling and gives the tasks in flight a grace period.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::client::CallError;
use crate::shared::{Backoff, Shared, pause};
use crate::{metadata, proto, tasks};

/// Logs a failed call: a refusal names the client id and the status, never the secret.
fn log_failure(what: &str, error: &CallError, client: &str, retry_in: Duration) {
    if error.is_refusal() {
        tracing::error!(
            client_id = client,
            error = %error,
            retry_in_ms = retry_in.as_millis() as u64,
            "{what}: ConductorOne refused the credentials; check the client id and secret"
        );
    } else {
        tracing::warn!(
            error = %connector_sdk::error_chain(error),
            retry_in_ms = retry_in.as_millis() as u64,
            "{what} failed"
        );
    }
}

/// The longest wait a `next_poll` may ask for.
const MAX_POLL: Duration = Duration::from_secs(300);

pub(crate) async fn run(
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> crate::Stopped {
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    let watcher = async move {
        shutdown.await;
        stopping.cancel();
    };
    let work = async {
        if say_hello(&shared, &stop).await {
            repair(&shared, &stop).await;
            return poll(&shared, &stop).await;
        }
        0
    };
    tokio::pin!(watcher);
    tokio::pin!(work);
    let writes_cut = tokio::select! {
        cut = &mut work => cut,
        () = &mut watcher => work.await,
    };
    crate::Stopped { writes_cut }
}

/// Hello until it is answered (backoff from 1 s to 5 min); false when stopped first.
async fn say_hello(shared: &Shared, stop: &CancellationToken) -> bool {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
    let client = shared.config.client_id.to_string();
    loop {
        let request = metadata::hello(
            &shared.registry,
            &shared.config.host_id,
            "",
            &shared.config.package,
        );
        let answer = tokio::select! {
            () = stop.cancelled() => return false,
            answer = shared.client.hello(request) => answer,
        };
        match answer {
            Ok(()) => {
                tracing::info!(
                    client_id = client,
                    host = shared.config.api_host(),
                    "connected to ConductorOne"
                );
                return true;
            }
            Err(error) => {
                shared.stats.tick();
                let wait = backoff.next_delay();
                log_failure("Hello", &error, &client, wait);
                if !pause(wait, stop).await {
                    return false;
                }
            }
        }
    }
}

/// Finishes the writes a previous process left interrupted, before the first task is fetched:
/// a re-delivered task then sees the repaired state. One that cannot be repaired now is left
/// recorded; a task that writes to its principal repairs it first or is refused, retryably.
async fn repair(shared: &Shared, stop: &CancellationToken) {
    let report = tokio::select! {
        () = stop.cancelled() => return,
        report = shared.registry.repair() => report,
    };
    if let Err(error) = report {
        tracing::error!(error = %connector_sdk::error_chain(&error),
            "the write journal could not be read; interrupted writes are repaired when a task \
             writes to their principal");
    }
}

/// Polls and runs tasks until stopped, then winds the tasks in flight down; the writes it cut.
async fn poll(shared: &Arc<Shared>, stop: &CancellationToken) -> usize {
    let slots = Arc::new(Semaphore::new(shared.config.concurrency));
    let cancel_tasks = CancellationToken::new();
    let cancel_syncs = CancellationToken::new();
    let mut running = JoinSet::new();
    let mut writes = JoinSet::new();
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let client = shared.config.client_id.to_string();
    loop {
        while running.try_join_next().is_some() {}
        while writes.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let answer = tokio::select! {
            () = stop.cancelled() => break,
            answer = shared.client.get_task(&shared.config.host_id) => answer,
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                shared.stats.polled(None);
                drop(permit);
                let wait = backoff.next_delay();
                log_failure("GetTask", &error, &client, wait);
                if !pause(wait, stop).await {
                    break;
                }
                continue;
            }
        };
        backoff.reset();
        let next_poll = answer
            .next_poll
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or_default()
            .min(MAX_POLL);
        shared
            .stats
            .polled(Some(next_poll.max(shared.config.min_poll)));
        let task = answer
            .task
            .filter(|t| !matches!(t.task_type, Some(proto::TaskType::None(_))));
        let wait = match &task {
            Some(task) => {
                let shared = shared.clone();
                let task = task.clone();
                // A sync stops at once on shutdown (it resumes at the next start); a write gets
                // the grace period to finish.
                let cancel = match task.task_type {
                    Some(proto::TaskType::SyncFull(_)) => cancel_syncs.child_token(),
                    _ => cancel_tasks.child_token(),
                };
                let set = match task.task_type.as_ref().is_some_and(tasks::writes) {
                    true => &mut writes,
                    false => &mut running,
                };
                set.spawn(async move {
                    tasks::run(&shared, task, cancel).await;
                    drop(permit);
                });
                next_poll
            }
            None => {
                drop(permit);
                next_poll.max(shared.config.min_poll)
            }
        };
        if !pause(wait, stop).await {
            break;
        }
    }
    cancel_syncs.cancel();
    let (cut, ()) = tokio::join!(
        finish_writes(shared, writes),
        wind_down(shared, running, cancel_tasks)
    );
    cut
}

/// Lets the writes in flight finish within the write grace, even past the shutdown grace: a
/// write is never cut between its requests while it can finish. What is still running then is
/// cut off and left to the write journal; the number cut.
async fn finish_writes(shared: &Shared, mut writes: JoinSet<()>) -> usize {
    if writes.is_empty() {
        return 0;
    }
    let grace = shared.config.write_grace;
    tracing::info!(
        writes = writes.len(),
        grace_s = grace.as_secs(),
        "stopping: waiting for the writes in flight"
    );
    let all = async { while writes.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all).await.is_ok() {
        return 0;
    }
    let cut = writes.len();
    tracing::error!(
        writes = cut,
        grace_s = grace.as_secs(),
        "stopping: writes still in flight after the write grace are cut off; the write journal \
         repairs them at the next start"
    );
    writes.abort_all();
    cut
}

/// Lets the tasks in flight finish within most of the grace period (syncs were cancelled
/// already), then cancels them and waits out the rest; whatever is still running then is
/// dropped.
async fn wind_down(shared: &Shared, mut running: JoinSet<()>, cancel: CancellationToken) {
    if running.is_empty() {
        return;
    }
    let grace = shared.config.shutdown_grace;
    let finish_by = grace.mul_f64(0.7);
    tracing::info!(
        tasks = running.len(),
        "stopping: waiting for the tasks in flight"
    );
    let all = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(finish_by, all).await.is_ok() {
        return;
    }
    tracing::warn!(
        tasks = running.len(),
        "stopping: cancelling the tasks in flight"
    );
    cancel.cancel();
    let all = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(grace.saturating_sub(finish_by), all)
        .await
        .is_err()
    {
        tracing::error!(tasks = running.len(), "stopping: tasks did not end in time");
        running.abort_all();
    }
}
