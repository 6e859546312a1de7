//! What each task does, and how it is finished.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use connector_sdk::{
    CallContext, CreateAccountOutcome, ErrorKind, FieldKind, GrantOutcome, GrantRequest,
    ResourceTrait, RevokeOutcome, RevokeRequest, SyncEngine,
};
use prost::Message;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::proto::{self, TaskType, code};
use crate::runner::{Backoff, Shared, pause};

/// How a task ended, for FinishTask and the counters.
enum Finish {
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
    fn error(code: i32, message: impl Into<String>, non_retryable: bool) -> Self {
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

    fn success(name: &'static str, response: Vec<u8>) -> Self {
        Self::Success {
            response: Some((name, response)),
            annotations: Vec::new(),
        }
    }
}

/// The gRPC code and retryability of an SDK error: writes the connector refused are final;
/// rate limits and unavailability may pass.
fn sdk_error(error: &connector_sdk::Error) -> Finish {
    use connector_sdk::Error as E;
    let message = connector_sdk::error_chain(error);
    let (code, non_retryable) = match error {
        E::Argument(_) | E::UnknownAction(_) => (code::INVALID_ARGUMENT, true),
        E::Unsupported { .. } | E::AccountCreationUnsupported => (code::UNIMPLEMENTED, true),
        E::Cancelled => (code::CANCELLED, false),
        E::OtherFingerprint { .. } | E::Registration(_) => (code::FAILED_PRECONDITION, true),
        E::InProgress { .. } | E::LeaseLost(_) => (code::UNAVAILABLE, false),
        E::Operation { source, .. }
        | E::Connector { source, .. }
        | E::RetriesExhausted { source, .. } => match source.kind() {
            ErrorKind::InvalidArgument => (code::INVALID_ARGUMENT, true),
            ErrorKind::NotFound => (code::NOT_FOUND, true),
            ErrorKind::PermissionDenied => (code::PERMISSION_DENIED, true),
            ErrorKind::Unauthenticated => (code::UNAUTHENTICATED, true),
            ErrorKind::RateLimited => (code::RESOURCE_EXHAUSTED, false),
            ErrorKind::Transient | ErrorKind::RetriedByConnector => (code::UNAVAILABLE, false),
            _ => (code::UNKNOWN, true),
        },
        _ => (code::UNKNOWN, false),
    };
    Finish::error(code, message, non_retryable)
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
    let writes = matches!(
        task_type,
        TaskType::Grant(_)
            | TaskType::Revoke(_)
            | TaskType::CreateAccount(_)
            | TaskType::ActionInvoke(_)
    );
    let outcome = if writes && !shared.config.provisioning {
        Finish::refused(format!(
            "{name} refused: provisioning is not enabled on this connector (start it with \
             --provisioning)"
        ))
    } else {
        match task_type {
            TaskType::Hello(_) => hello(shared, &task.id).await,
            TaskType::SyncFull(_) => sync_full(shared, &task.id, cancel).await,
            TaskType::Grant(grant) => self::grant(shared, grant).await,
            TaskType::Revoke(revoke) => self::revoke(shared, revoke).await,
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

/// The heartbeat interval ConductorOne asks for: 30 s when absent or zero, else 1 s to 5 min.
fn heartbeat_interval(next: Option<prost_types::Duration>) -> Duration {
    match next.and_then(|d| Duration::try_from(d).ok()) {
        None => Duration::from_secs(30),
        Some(d) if d.is_zero() => Duration::from_secs(30),
        Some(d) => d.clamp(Duration::from_secs(1), Duration::from_secs(300)),
    }
}

/// A full sync: a first heartbeat (a cancelled or failed one abandons the task), heartbeats
/// while the engine runs and the file is written and uploaded, then FinishTask.
async fn sync_full(shared: &Shared, task_id: &str, cancel: CancellationToken) -> Finish {
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
    let work = sync_and_upload(shared, task_id, &run_cancel);
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
        match shared
            .client
            .heartbeat(&shared.config.host_id, task_id)
            .await
        {
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

/// The engine, the `.c1z`, the upload.
async fn sync_and_upload(shared: &Shared, task_id: &str, cancel: &CancellationToken) -> Finish {
    let engine = SyncEngine::new(
        shared.registry.clone(),
        shared.store.clone(),
        shared.config.sync.clone(),
    );
    let report = match engine.run(cancel).await {
        Ok(report) => report,
        Err(error) => return sdk_error(&error),
    };
    let dir = match &shared.config.temp_dir {
        Some(dir) => tempfile::Builder::new().prefix("c1-sync-").tempdir_in(dir),
        None => tempfile::Builder::new().prefix("c1-sync-").tempdir(),
    };
    let dir = match dir {
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
    let store = shared.store.clone();
    let run = report.run;
    let target = path.clone();
    let written =
        tokio::task::spawn_blocking(move || c1z::Writer::new().write(store.as_ref(), run, &target))
            .await;
    match written {
        Ok(Ok(_)) => {}
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
    match shared
        .client
        .upload(&shared.config.host_id, task_id, &path)
        .await
    {
        Ok(bytes) => {
            tracing::info!(task_id, run = %report.run, bytes, grants = report.counts.total_grants(),
                "sync uploaded");
            Finish::Success {
                response: None,
                annotations: Vec::new(),
            }
        }
        Err(error) => Finish::error(
            code::UNAVAILABLE,
            format!("upload failed: {}", connector_sdk::error_chain(&error)),
            false,
        ),
    }
}

fn malformed(what: &str, error: impl std::fmt::Display) -> Finish {
    Finish::error(
        code::INVALID_ARGUMENT,
        format!("malformed {what} task: {error}"),
        true,
    )
}

fn duration(d: Option<prost_types::Duration>) -> Option<Duration> {
    d.and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
}

async fn grant(shared: &Shared, task: proto::GrantTask) -> Finish {
    let entitlement = match c1z::wire::read_entitlement(&task.entitlement) {
        Ok(e) => e.id,
        Err(e) => return malformed("grant", e),
    };
    let principal = match c1z::wire::read_resource(&task.principal) {
        Ok(r) => r.id,
        Err(e) => return malformed("grant", e),
    };
    let mut request = GrantRequest::new(principal.clone(), entitlement.clone())
        .with_context(CallContext::default().with_actor("ConductorOne"));
    if let Some(d) = duration(task.duration) {
        request = request.with_duration(d);
    }
    match shared.registry.grant(request).await {
        Ok(outcome) => {
            let grant = connector_sdk::Grant::new(entitlement, principal);
            let mut annotations = Vec::new();
            if matches!(outcome, GrantOutcome::AlreadyGranted) {
                annotations.push(proto::any("c1.connector.v2.GrantAlreadyExists", Vec::new()));
            }
            let response = proto::GrantResponse {
                annotations: annotations.clone(),
                grants: vec![c1z::wire::grant(&grant)],
            };
            Finish::Success {
                response: Some((
                    "c1.connector.v2.GrantManagerServiceGrantResponse",
                    response.encode_to_vec(),
                )),
                annotations,
            }
        }
        Err(error) => sdk_error(&error),
    }
}

async fn revoke(shared: &Shared, task: proto::RevokeTask) -> Finish {
    let grant = match c1z::wire::read_grant(&task.grant) {
        Ok(g) => g,
        Err(e) => return malformed("revoke", e),
    };
    let request =
        RevokeRequest::new(grant).with_context(CallContext::default().with_actor("ConductorOne"));
    match shared.registry.revoke(request).await {
        Ok(outcome) => {
            let mut annotations = Vec::new();
            if matches!(outcome, RevokeOutcome::AlreadyRevoked) {
                annotations.push(proto::any(
                    "c1.connector.v2.GrantAlreadyRevoked",
                    Vec::new(),
                ));
            }
            let response = proto::Annotated {
                annotations: annotations.clone(),
            };
            Finish::Success {
                response: Some((
                    "c1.connector.v2.GrantManagerServiceRevokeResponse",
                    response.encode_to_vec(),
                )),
                annotations,
            }
        }
        Err(error) => sdk_error(&error),
    }
}

/// The account fields an AccountInfo names: `login`, `email` (the primary address, else the
/// first) and the profile's keys, each only where the connector's schema declares it.
fn account_fields(
    schema: &[connector_sdk::FieldSpec],
    info: &proto::AccountInfo,
) -> Result<Map<String, Value>, String> {
    let declared = |name: &str| schema.iter().find(|f| f.name == name);
    let mut fields = Map::new();
    if !info.login.is_empty() && declared("login").is_some() {
        fields.insert("login".into(), Value::String(info.login.clone()));
    }
    let email = info
        .emails
        .iter()
        .find(|e| e.is_primary)
        .or_else(|| info.emails.first());
    if let (Some(email), Some(_)) = (email, declared("email")) {
        fields.insert("email".into(), Value::String(email.address.clone()));
    }
    let profile = if info.profile.is_empty() {
        Map::new()
    } else {
        c1z::wire::read_json_struct(&info.profile).map_err(|e| e.to_string())?
    };
    let mut ignored = Vec::new();
    for (key, value) in profile {
        match declared(&key) {
            Some(spec) if !fields.contains_key(&key) => {
                let value = match (spec.kind, value) {
                    (FieldKind::String, Value::Number(n)) => Value::String(n.to_string()),
                    (_, value) => value,
                };
                fields.insert(key, value);
            }
            Some(_) => {}
            None => ignored.push(key),
        }
    }
    if !ignored.is_empty() {
        tracing::warn!(keys = ?ignored, "profile keys the account schema does not declare were ignored");
    }
    Ok(fields)
}

async fn create_account(shared: &Shared, task: proto::CreateAccountTask) -> Finish {
    let Some(info) = task.account_info else {
        return malformed("create account", "account_info is missing");
    };
    let manifest = shared.registry.manifest();
    let Some(schema) = manifest.account_creation else {
        return Finish::error(
            code::UNIMPLEMENTED,
            "the connector does not create accounts",
            true,
        );
    };
    let fields = match account_fields(&schema.fields, &info) {
        Ok(fields) => fields,
        Err(e) => return malformed("create account", e),
    };
    let context = CallContext::default().with_actor("ConductorOne");
    match shared.registry.create_account(fields, context).await {
        Ok(outcome) => {
            let (resource, created) = match outcome {
                CreateAccountOutcome::Created(r) => (r, true),
                CreateAccountOutcome::AlreadyExists(r) => (r, false),
                other => {
                    return Finish::error(
                        code::UNKNOWN,
                        format!("unexpected account outcome {other:?}"),
                        true,
                    );
                }
            };
            let traits: Vec<ResourceTrait> = shared
                .registry
                .resource_types()
                .into_iter()
                .find(|t| t.id == resource.id.resource_type)
                .map(|t| t.traits)
                .unwrap_or_default();
            let account = proto::AccountResource {
                resource: c1z::wire::resource(&resource, &traits),
                is_create_account_result: true,
            };
            let result = if created {
                proto::AccountResult::Success(account)
            } else {
                proto::AccountResult::AlreadyExists(account)
            };
            let response = proto::CreateAccountResponse {
                result: Some(result),
                annotations: Vec::new(),
            };
            Finish::success(
                "c1.connector.v2.CreateAccountResponse",
                response.encode_to_vec(),
            )
        }
        Err(error) => sdk_error(&error),
    }
}

fn action_schema(schema: &connector_sdk::ActionSchema) -> proto::ActionSchema {
    proto::ActionSchema {
        name: schema.name.clone(),
        arguments: schema
            .arguments
            .iter()
            .map(|f| proto::ConfigField {
                name: f.name.clone(),
                display_name: f.name.clone(),
                description: f.description.clone(),
                is_required: f.required,
                field: Some(match f.kind {
                    FieldKind::Integer => proto::ConfigFieldKind::Int(proto::Empty {}),
                    FieldKind::Boolean => proto::ConfigFieldKind::Bool(proto::Empty {}),
                    FieldKind::StringList => proto::ConfigFieldKind::StringSlice(proto::Empty {}),
                    _ => proto::ConfigFieldKind::String(proto::Empty {}),
                }),
            })
            .collect(),
        display_name: schema.name.clone(),
        description: schema.description.clone(),
    }
}

fn list_schemas(shared: &Shared) -> Finish {
    let response = proto::ListActionSchemasResponse {
        schemas: shared
            .registry
            .actions()
            .iter()
            .map(action_schema)
            .collect(),
        annotations: Vec::new(),
    };
    Finish::success(
        "c1.connector.v2.ListActionSchemasResponse",
        response.encode_to_vec(),
    )
}

fn get_schema(shared: &Shared, name: &str) -> Finish {
    if name.is_empty() {
        return Finish::error(code::INVALID_ARGUMENT, "action name required", false);
    }
    match shared.registry.actions().iter().find(|a| a.name == name) {
        Some(schema) => {
            let response = proto::GetActionSchemaResponse {
                schema: Some(action_schema(schema)),
                annotations: Vec::new(),
            };
            Finish::success(
                "c1.connector.v2.GetActionSchemaResponse",
                response.encode_to_vec(),
            )
        }
        None => Finish::error(code::NOT_FOUND, format!("unknown action `{name}`"), false),
    }
}

/// The outcomes of recent action invocations, for `action_status` (the newest 256).
#[derive(Default)]
pub(crate) struct ActionResults(Mutex<VecDeque<(String, String, Vec<u8>)>>);

impl ActionResults {
    fn keep(&self, id: String, name: String, response: Vec<u8>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == 256 {
            kept.pop_front();
        }
        kept.push_back((id, name, response));
    }

    fn find(&self, id: &str) -> Option<(String, Vec<u8>)> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .find(|(kept_id, _, _)| kept_id == id)
            .map(|(_, name, response)| (name.clone(), response.clone()))
    }
}

async fn invoke_action(shared: &Shared, task: proto::ActionInvokeTask) -> Finish {
    if task.name.is_empty() {
        return Finish::error(code::INVALID_ARGUMENT, "action name required", false);
    }
    let arguments = if task.args.is_empty() {
        Map::new()
    } else {
        match c1z::wire::read_json_struct(&task.args) {
            Ok(arguments) => arguments,
            Err(e) => return malformed("action invoke", e),
        }
    };
    let context = CallContext::default().with_actor("ConductorOne");
    match shared
        .registry
        .run_action(&task.name, arguments, context)
        .await
    {
        Ok(result) => {
            let id = c1z::wire::ksuid();
            let response = c1z::wire::json_struct(result.as_map());
            shared
                .actions
                .keep(id.clone(), task.name.clone(), response.clone());
            let answer = proto::InvokeActionResponse {
                id,
                status: proto::ACTION_COMPLETE,
                annotations: Vec::new(),
                response,
                name: task.name,
            };
            Finish::success(
                "c1.connector.v2.InvokeActionResponse",
                answer.encode_to_vec(),
            )
        }
        Err(error) => match sdk_error(&error) {
            Finish::Error { code, message, .. } => Finish::error(code, message, false),
            other => other,
        },
    }
}

fn action_status(shared: &Shared, id: &str) -> Finish {
    if id.is_empty() {
        return Finish::error(code::INVALID_ARGUMENT, "action id required", false);
    }
    match shared.actions.find(id) {
        Some((name, response)) => {
            let answer = proto::GetActionStatusResponse {
                name,
                id: id.to_owned(),
                status: proto::ACTION_COMPLETE,
                annotations: Vec::new(),
                response,
            };
            Finish::success(
                "c1.connector.v2.GetActionStatusResponse",
                answer.encode_to_vec(),
            )
        }
        None => Finish::error(code::NOT_FOUND, format!("no action with id {id}"), false),
    }
}
