//! What each task does, and how it is finished: the dispatch and FinishTask here; syncs,
//! writes and actions in their own files.

mod actions;
mod sync;
mod writes;

use std::time::Duration;

use connector_sdk::ErrorKind;
use tokio_util::sync::CancellationToken;

use crate::proto::{self, TaskType, code};
use crate::shared::{Backoff, Shared, pause};

use actions::{action_status, get_schema, invoke_action, list_schemas};
use sync::sync_full;
use writes::{create_account, grant, revoke};

/// How a task ended, for FinishTask and the counters.
pub(super) enum Finish {
    /// Success, with a response (`c1.connector.v2.<name>`, its bytes) and annotations.
    Success {
        response: Option<(&'static str, Vec<u8>)>,
        annotations: Vec<prost_types::Any>,
    },
    /// An error.
    Error {
        code: i32,
        message: String,
        non_retryable: bool,
        outcome: &'static str,
    },
    /// Nothing to send (a HelloTask, or a sync abandoned before it began).
    Nothing(&'static str),
}

impl Finish {
    pub(super) fn error(code: i32, message: impl Into<String>, non_retryable: bool) -> Self {
        Self::Error {
            code,
            message: message.into(),
            non_retryable,
            outcome: "failed",
        }
    }

    fn refused(message: impl Into<String>) -> Self {
        Self::Error {
            code: code::FAILED_PRECONDITION,
            message: message.into(),
            non_retryable: true,
            outcome: "refused",
        }
    }

    pub(super) fn success(name: &'static str, response: Vec<u8>) -> Self {
        Self::Success {
            response: Some((name, response)),
            annotations: Vec::new(),
        }
    }
}

/// The gRPC code and retryability of an SDK error: writes the connector refused are final;
/// rate limits and unavailability may pass.
pub(super) fn sdk_error(error: &connector_sdk::Error) -> Finish {
    let message = connector_sdk::error_chain(error);
    let (code, non_retryable) = grpc_code(error.kind());
    Finish::error(code, message, non_retryable)
}

/// The gRPC code a task that failed with `kind` finishes with, and whether ConductorOne should
/// not retry it: service mode's map of the SDK's one classification ([`ErrorKind`]).
fn grpc_code(kind: ErrorKind) -> (i32, bool) {
    match kind {
        ErrorKind::InvalidArgument => (code::INVALID_ARGUMENT, true),
        ErrorKind::Unsupported => (code::UNIMPLEMENTED, true),
        ErrorKind::Conflict | ErrorKind::OtherTenant => (code::FAILED_PRECONDITION, true),
        ErrorKind::NotFound => (code::NOT_FOUND, true),
        ErrorKind::PermissionDenied => (code::PERMISSION_DENIED, true),
        ErrorKind::Unauthenticated => (code::UNAUTHENTICATED, true),
        ErrorKind::RateLimited => (code::RESOURCE_EXHAUSTED, false),
        ErrorKind::Transient | ErrorKind::RetriedByConnector | ErrorKind::Busy => {
            (code::UNAVAILABLE, false)
        }
        ErrorKind::Cancelled => (code::CANCELLED, false),
        ErrorKind::Fatal => (code::UNKNOWN, true),
        _ => (code::UNKNOWN, false),
    }
}

/// Whether a task changes access (and so needs `--provisioning`, and gets the write grace).
pub(crate) fn writes(task_type: &TaskType) -> bool {
    matches!(
        task_type,
        TaskType::Grant(_)
            | TaskType::Revoke(_)
            | TaskType::CreateAccount(_)
            | TaskType::ActionInvoke(_)
    )
}

/// Runs `task` and finishes it.
pub(crate) async fn run(shared: &Shared, task: proto::Task, cancel: CancellationToken) {
    let Some(task_type) = task.task_type else {
        finish(
            shared,
            &task.id,
            "unknown",
            Finish::error(code::UNIMPLEMENTED, "unsupported task type (empty)", true),
        )
        .await;
        return;
    };
    let name = task_type.name();
    tracing::info!(task_id = task.id, task_type = name, "task received");
    let started = std::time::Instant::now();
    let outcome = if writes(&task_type) && !shared.config.provisioning {
        Finish::refused(format!(
            "{name} refused: provisioning is not enabled on this connector (start it with \
             --provisioning)"
        ))
    } else {
        match task_type {
            TaskType::Hello(_) => hello(shared, &task.id).await,
            TaskType::SyncFull(options) => sync_full(shared, &task.id, options, cancel).await,
            TaskType::Grant(task) => grant(shared, task).await,
            TaskType::Revoke(task) => revoke(shared, task).await,
            TaskType::CreateAccount(create) => create_account(shared, create).await,
            TaskType::ActionListSchemas(_) => list_schemas(shared),
            TaskType::ActionGetSchema(get) => get_schema(shared, &get.name),
            TaskType::ActionInvoke(invoke) => invoke_action(shared, invoke).await,
            TaskType::ActionStatus(status) => action_status(shared, &status.id),
            other => Finish::error(
                code::UNIMPLEMENTED,
                format!("unsupported task type {}", other.name()),
                true,
            ),
        }
    };
    shared.stats.took(name, started.elapsed());
    finish(shared, &task.id, name, outcome).await;
}

/// Sends FinishTask, retrying transient failures (six attempts, 1 s to 30 s apart), and counts
/// the outcome.
async fn finish(shared: &Shared, task_id: &str, task_type: &'static str, outcome: Finish) {
    let (final_state, status, counted) = match outcome {
        Finish::Nothing(counted) => {
            shared.stats.count(task_type, counted);
            return;
        }
        Finish::Success {
            response,
            annotations,
        } => (
            proto::FinalState::Success(proto::FinishSuccess {
                annotations,
                response: response.map(|(name, bytes)| proto::any(name, bytes)),
            }),
            None,
            "succeeded",
        ),
        Finish::Error {
            code,
            message,
            non_retryable,
            outcome,
        } => {
            tracing::warn!(
                task_id,
                task_type,
                code,
                non_retryable,
                error = message,
                "task failed"
            );
            (
                proto::FinalState::Error(proto::FinishError {
                    non_retryable,
                    annotations: Vec::new(),
                    response: None,
                }),
                Some(proto::RpcStatus {
                    code,
                    message,
                    details: Vec::new(),
                }),
                outcome,
            )
        }
    };
    let request = proto::FinishTaskRequest {
        host_id: shared.config.host_id.clone(),
        task_id: task_id.to_owned(),
        status,
        final_state: Some(final_state),
    };
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let never = CancellationToken::new();
    for attempt in 1..=6 {
        match shared.client.finish_task(request.clone()).await {
            Ok(()) => {
                shared.stats.count(task_type, counted);
                tracing::info!(task_id, task_type, outcome = counted, "task finished");
                return;
            }
            Err(error) if attempt < 6 => {
                let wait = backoff.next_delay();
                tracing::warn!(task_id, attempt, error = %connector_sdk::error_chain(&error),
                    retry_in_ms = wait.as_millis() as u64, "FinishTask failed");
                pause(wait, &never).await;
            }
            Err(error) => {
                tracing::error!(task_id, error = %connector_sdk::error_chain(&error),
                    "FinishTask failed six times; the task's outcome is lost");
            }
        }
    }
    shared.stats.count(task_type, "unreported");
}

/// A HelloTask: Hello again with the task's id; no FinishTask.
async fn hello(shared: &Shared, task_id: &str) -> Finish {
    let request = crate::metadata::hello(
        &shared.registry,
        &shared.config.host_id,
        task_id,
        &shared.config.package,
    );
    match shared.client.hello(request).await {
        Ok(()) => Finish::Nothing("succeeded"),
        Err(error) => {
            tracing::warn!(task_id, error = %connector_sdk::error_chain(&error), "Hello failed");
            Finish::Nothing("failed")
        }
    }
}

/// A task whose payload cannot be read: final.
pub(super) fn malformed(what: &str, error: impl std::fmt::Display) -> Finish {
    Finish::error(
        code::INVALID_ARGUMENT,
        format!("malformed {what} task: {error}"),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_finishes_with_one_grpc_code() {
        let cases = [
            (ErrorKind::InvalidArgument, (code::INVALID_ARGUMENT, true)),
            (ErrorKind::Unsupported, (code::UNIMPLEMENTED, true)),
            (ErrorKind::OtherTenant, (code::FAILED_PRECONDITION, true)),
            (ErrorKind::Conflict, (code::FAILED_PRECONDITION, true)),
            (ErrorKind::NotFound, (code::NOT_FOUND, true)),
            (ErrorKind::Unauthenticated, (code::UNAUTHENTICATED, true)),
            (ErrorKind::RateLimited, (code::RESOURCE_EXHAUSTED, false)),
            (ErrorKind::Busy, (code::UNAVAILABLE, false)),
            (ErrorKind::RetriedByConnector, (code::UNAVAILABLE, false)),
            (ErrorKind::Cancelled, (code::CANCELLED, false)),
            (ErrorKind::Fatal, (code::UNKNOWN, true)),
            (ErrorKind::Internal, (code::UNKNOWN, false)),
        ];
        for (kind, expected) in cases {
            assert_eq!(grpc_code(kind), expected, "{kind}");
        }
        let finish = sdk_error(&connector_sdk::Error::UnknownAction("nope".into()));
        assert!(
            matches!(
                finish,
                Finish::Error { code: c, non_retryable: true, ref message, .. }
                    if c == code::UNIMPLEMENTED && message == "unknown action `nope`"
            ),
            "not an UNIMPLEMENTED error"
        );
    }
}
