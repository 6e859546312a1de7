//! `sync_full`: heartbeats, the engine, the `.c1z` and its upload.

use std::time::Duration;

use std::collections::BTreeSet;

use connector_sdk::{ResourceTypeId, SyncConfig, SyncEngine};
use tokio_util::sync::CancellationToken;

use super::{Finish, sdk_error};
use crate::proto::{self, code};
use crate::shared::Shared;

/// The heartbeat interval ConductorOne asks for: 30 s when absent or zero, else 1 s to 5 min.
fn heartbeat_interval(next: Option<prost_types::Duration>) -> Duration {
    match next.and_then(|d| Duration::try_from(d).ok()) {
        None => Duration::from_secs(30),
        Some(d) if d.is_zero() => Duration::from_secs(30),
        Some(d) => d.clamp(Duration::from_secs(1), Duration::from_secs(300)),
    }
}

/// The engine's settings for a task's options. `sync_resource_type_ids` is honoured (types the
/// connector does not have are ignored with a warning; none it has fails the task, final).
/// The options this connector does not implement run the full sync, a superset of what they
/// ask, as baton's clients before them did, and say so: `skip_entitlements_and_grants`,
/// `skip_grants` and `targeted_sync_resources`. `skip_expand_grants` changes nothing (grants
/// are never expanded here).
fn sync_config(
    shared: &Shared,
    task_id: &str,
    options: &proto::SyncFullTask,
) -> Result<SyncConfig, Finish> {
    let mut config = shared.config.sync.clone();
    for (asked, name) in [
        (
            options.skip_entitlements_and_grants,
            "skip_entitlements_and_grants",
        ),
        (options.skip_grants, "skip_grants"),
        (
            !options.targeted_sync_resources.is_empty(),
            "targeted_sync_resources",
        ),
    ] {
        if asked {
            tracing::warn!(
                task_id,
                option = name,
                "the sync task asks for an option this connector does not implement; running the \
                 full sync, which holds everything the option asks for"
            );
        }
    }
    if options.sync_resource_type_ids.is_empty() {
        return Ok(config);
    }
    let known: BTreeSet<ResourceTypeId> = shared
        .registry
        .resource_types()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let (selected, unknown): (Vec<ResourceTypeId>, Vec<ResourceTypeId>) = options
        .sync_resource_type_ids
        .iter()
        .map(|t| ResourceTypeId::new(t.as_str()))
        .partition(|t| known.contains(t));
    if !unknown.is_empty() {
        tracing::warn!(task_id, unknown = ?unknown.iter().map(ResourceTypeId::as_str).collect::<Vec<_>>(),
            "the sync task names resource types this connector does not have; they are ignored");
    }
    if selected.is_empty() {
        return Err(Finish::error(
            code::INVALID_ARGUMENT,
            format!(
                "the sync task selects only resource types this connector does not have ({}); \
                 it has {}",
                options.sync_resource_type_ids.join(", "),
                known
                    .iter()
                    .map(ResourceTypeId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            true,
        ));
    }
    tracing::info!(task_id, types = ?selected.iter().map(ResourceTypeId::as_str).collect::<Vec<_>>(),
        "syncing the resource types the task selected");
    config = config.with_resource_types(Some(selected.into_iter().collect()));
    Ok(config)
}

/// A full sync: a first heartbeat (a cancelled or failed one abandons the task), heartbeats
/// while the engine runs and the file is written and uploaded, then FinishTask.
pub(super) async fn sync_full(
    shared: &Shared,
    task_id: &str,
    options: proto::SyncFullTask,
    cancel: CancellationToken,
) -> Finish {
    let config = match sync_config(shared, task_id, &options) {
        Ok(config) => config,
        Err(finish) => return finish,
    };
    let first = match shared
        .client
        .heartbeat(&shared.config.host_id, task_id)
        .await
    {
        Ok(answer) if answer.cancelled => return Finish::Nothing("cancelled"),
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(task_id, error = %connector_sdk::error_chain(&error),
                "the first heartbeat failed; the task is left to be reassigned");
            return Finish::Nothing("failed");
        }
    };
    let run_cancel = cancel.child_token();
    let heartbeats = heartbeat_loop(
        shared,
        task_id,
        heartbeat_interval(first.next_heartbeat),
        run_cancel.clone(),
    );
    let work = sync_and_upload(shared, task_id, config, &run_cancel);
    tokio::pin!(heartbeats);
    tokio::pin!(work);
    // The work always runs to its end: a cancellation makes it stop early, never dropped midway.
    let mut stopped_by = None;
    let finish = loop {
        tokio::select! {
            finish = &mut work => break finish,
            reason = &mut heartbeats, if stopped_by.is_none() => stopped_by = Some(reason),
        }
    };
    if let Some(reason) = stopped_by {
        return Finish::Error {
            code: code::CANCELLED,
            message: reason,
            non_retryable: false,
            outcome: "cancelled",
        };
    }
    match finish {
        Finish::Error { code: c, .. } if c == code::CANCELLED && cancel.is_cancelled() => {
            Finish::Error {
                code: code::UNAVAILABLE,
                message: "the connector is shutting down; the sync resumes at its next start"
                    .into(),
                non_retryable: false,
                outcome: "cancelled",
            }
        }
        other => other,
    }
}

/// Heartbeats until the task is cancelled by ConductorOne or nine in a row fail; returns why it
/// stopped (and cancels `run`). Runs forever otherwise (the caller drops it).
async fn heartbeat_loop(
    shared: &Shared,
    task_id: &str,
    mut interval: Duration,
    run: CancellationToken,
) -> String {
    let mut failures = 0;
    loop {
        tokio::time::sleep(interval).await;
        let answer = shared
            .client
            .heartbeat(&shared.config.host_id, task_id)
            .await;
        shared.stats.tick();
        match answer {
            Ok(answer) if answer.cancelled => {
                run.cancel();
                return "the task was cancelled".into();
            }
            Ok(answer) => {
                failures = 0;
                interval = heartbeat_interval(answer.next_heartbeat);
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(task_id, failures, error = %connector_sdk::error_chain(&error),
                    "heartbeat failed");
                if failures >= 9 {
                    run.cancel();
                    return "the task failed nine heartbeats in a row".into();
                }
            }
        }
    }
}

/// The engine, the `.c1z`, the upload. The `.c1z` is written while the sync runs
/// ([`c1z::LiveWriter`]: a sync held back by the rate limit leaves time for it), or from the
/// store afterwards when it could not be.
async fn sync_and_upload(
    shared: &Shared,
    task_id: &str,
    config: SyncConfig,
    cancel: &CancellationToken,
) -> Finish {
    // The writer's database lives in the temp directory itself, where the next writer finds
    // and removes what a killed process left; the file to upload gets a directory of its own
    // once the sync is done.
    let base = shared
        .config
        .temp_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let live = match c1z::Writer::new().live(shared.store.clone(), &base) {
        Ok(live) => live,
        Err(e) => return Finish::error(code::UNKNOWN, connector_sdk::error_chain(&e), false),
    };
    let engine = SyncEngine::new(shared.registry.clone(), shared.store.clone(), config)
        .with_observer(live.observer());
    let report = match engine.run(cancel).await {
        Ok(report) => report,
        Err(error) => return sdk_error(&error),
    };
    let dir = match tempfile::Builder::new()
        .prefix("c1-sync-")
        .tempdir_in(&base)
    {
        Ok(dir) => dir,
        Err(e) => {
            return Finish::error(
                code::UNKNOWN,
                format!("cannot make a temp directory: {e}"),
                false,
            );
        }
    };
    let path = dir.path().join("sync.c1z");
    let run = report.run;
    let target = path.clone();
    let started = std::time::Instant::now();
    let written = tokio::task::spawn_blocking(move || live.finish(run, &target)).await;
    match written {
        Ok(Ok(written)) => {
            tracing::debug!(task_id, %run, during_sync = written.written_during_sync,
                bytes = written.bytes, ms = started.elapsed().as_millis() as u64,
                "sync file written");
        }
        Ok(Err(e)) => {
            return Finish::error(code::UNKNOWN, connector_sdk::error_chain(&e), false);
        }
        Err(e) => {
            return Finish::error(
                code::UNKNOWN,
                format!("the .c1z writer stopped: {e}"),
                false,
            );
        }
    }
    if cancel.is_cancelled() {
        return Finish::error(code::CANCELLED, "cancelled before the upload", false);
    }
    let stats = shared.stats.clone();
    let progress = std::sync::Arc::new(move |bytes: usize| stats.uploaded(bytes));
    match shared
        .client
        .upload(&shared.config.host_id, task_id, &path, cancel, progress)
        .await
    {
        Ok(bytes) => {
            shared.stats.synced();
            tracing::info!(task_id, run = %report.run, bytes, grants = report.counts.total_grants(),
                "sync uploaded");
            Finish::Success {
                response: None,
                annotations: Vec::new(),
            }
        }
        Err(error) => {
            let code = match error {
                crate::CallError::Cancelled { .. } => code::CANCELLED,
                _ => code::UNAVAILABLE,
            };
            let message = format!("upload failed: {}", connector_sdk::error_chain(&error));
            Finish::error(code, message, false)
        }
    }
}
