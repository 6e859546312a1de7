//! What a test scripts (tasks in the SDK's terms) and what it reads back (finished tasks,
//! uploads, Hellos).

use connector_sdk::{EntitlementId, Grant, Resource, ResourceId};
use prost::Message;
use serde_json::{Map, Value};

use crate::proto;

/// A task to hand out, built in the SDK's terms.
#[derive(Debug, Clone)]
pub struct ScriptedTask(pub(super) proto::Task);

impl ScriptedTask {
    fn new(task_type: proto::TaskType) -> Self {
        Self(proto::Task {
            id: c1z::wire::ksuid(),
            status: 1,
            debug: false,
            task_type: Some(task_type),
        })
    }

    /// A full sync.
    pub fn sync_full() -> Self {
        Self::new(proto::TaskType::SyncFull(proto::SyncFullTask::default()))
    }

    /// A full sync of these resource types only (`sync_resource_type_ids`).
    pub fn sync_of(types: &[&str]) -> Self {
        Self::new(proto::TaskType::SyncFull(proto::SyncFullTask {
            sync_resource_type_ids: types.iter().map(|t| (*t).to_owned()).collect(),
            ..proto::SyncFullTask::default()
        }))
    }

    /// A full sync that asks for options this connector does not implement: resources only
    /// (`skip_entitlements_and_grants`) and no grants (`skip_grants`).
    pub fn sync_skipping_grants() -> Self {
        Self::new(proto::TaskType::SyncFull(proto::SyncFullTask {
            skip_entitlements_and_grants: true,
            skip_grants: true,
            ..proto::SyncFullTask::default()
        }))
    }

    /// A HelloTask.
    pub fn hello() -> Self {
        Self::new(proto::TaskType::Hello(proto::Annotated::default()))
    }

    /// Give `principal` the entitlement `entitlement`, as ConductorOne sends it: the
    /// entitlement with its resource's id, the principal as a resource with its id.
    pub fn grant(entitlement: &EntitlementId, principal: &ResourceId) -> Self {
        Self::new(proto::TaskType::Grant(proto::GrantTask {
            entitlement: c1z::wire::entitlement_ref(entitlement),
            principal: c1z::wire::resource(&Resource::new(principal.clone(), ""), &[]),
            annotations: Vec::new(),
            duration: None,
        }))
    }

    /// A grant with a duration (a time-bound grant).
    pub fn grant_for(entitlement: &EntitlementId, principal: &ResourceId, seconds: i64) -> Self {
        let mut task = Self::grant(entitlement, principal);
        if let Some(proto::TaskType::Grant(grant)) = &mut task.0.task_type {
            grant.duration = Some(prost_types::Duration { seconds, nanos: 0 });
        }
        task
    }

    /// Take `grant` away.
    pub fn revoke(grant: &Grant) -> Self {
        Self::new(proto::TaskType::Revoke(proto::RevokeTask {
            grant: c1z::wire::grant(grant),
            annotations: Vec::new(),
        }))
    }

    /// Create an account: its login, primary email, and profile.
    pub fn create_account(login: &str, email: &str, profile: &Map<String, Value>) -> Self {
        Self::new(proto::TaskType::CreateAccount(proto::CreateAccountTask {
            account_info: Some(proto::AccountInfo {
                emails: vec![proto::AccountEmail {
                    address: email.to_owned(),
                    is_primary: true,
                }],
                login: login.to_owned(),
                login_aliases: Vec::new(),
                profile: c1z::wire::json_struct(profile),
            }),
            credential_options: Vec::new(),
            encryption_configs: Vec::new(),
            resource_type_id: String::new(),
        }))
    }

    /// Run action `name` with `arguments`.
    pub fn action(name: &str, arguments: &Map<String, Value>) -> Self {
        Self::new(proto::TaskType::ActionInvoke(proto::ActionInvokeTask {
            name: name.to_owned(),
            args: c1z::wire::json_struct(arguments),
            annotations: Vec::new(),
            resource_type_id: String::new(),
        }))
    }

    /// List the action schemas.
    pub fn action_list_schemas() -> Self {
        Self::new(proto::TaskType::ActionListSchemas(
            proto::ActionListSchemasTask::default(),
        ))
    }

    /// A task type this crate does not run (`create_resource`).
    pub fn unsupported() -> Self {
        Self::new(proto::TaskType::CreateResource(Vec::new()))
    }

    /// The task's id.
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

/// How a task was finished.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    /// `FinishTask` with `success`.
    Success {
        /// The response's type, such as `c1.connector.v2.GrantManagerServiceGrantResponse`.
        response_type: Option<String>,
        /// The response's bytes.
        response: Vec<u8>,
        /// The type names of the success annotations.
        annotations: Vec<String>,
    },
    /// `FinishTask` with `error`.
    Error {
        /// The status code.
        code: i32,
        /// The status message.
        message: String,
        /// Whether ConductorOne must not retry it.
        non_retryable: bool,
    },
}

/// One FinishTask received.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The task id.
    pub task_id: String,
    /// The host id it came from.
    pub host_id: String,
    /// The outcome.
    pub result: TaskResult,
}

impl Finished {
    fn response(&self) -> Option<&[u8]> {
        match &self.result {
            TaskResult::Success { response, .. } => Some(response),
            TaskResult::Error { .. } => None,
        }
    }

    /// The grants a grant task answered with.
    pub fn grants(&self) -> Vec<Grant> {
        self.response()
            .and_then(|r| proto::GrantResponse::decode(r).ok())
            .map(|r| {
                r.grants
                    .iter()
                    .filter_map(|g| c1z::wire::read_grant(g).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The account a create-account task answered with, and whether it was created (rather
    /// than found).
    pub fn account(&self) -> Option<(Resource, bool)> {
        let answer = proto::CreateAccountResponse::decode(self.response()?).ok()?;
        match answer.result? {
            proto::AccountResult::Success(a) => {
                Some((c1z::wire::read_resource(&a.resource).ok()?, true))
            }
            proto::AccountResult::AlreadyExists(a) => {
                Some((c1z::wire::read_resource(&a.resource).ok()?, false))
            }
            proto::AccountResult::ActionRequired(_) => None,
        }
    }

    /// The result of an action task.
    pub fn action_result(&self) -> Option<Map<String, Value>> {
        let answer = proto::InvokeActionResponse::decode(self.response()?).ok()?;
        c1z::wire::read_json_struct(&answer.response).ok()
    }

    /// The action names an `action_list_schemas` task answered with.
    pub fn action_names(&self) -> Vec<String> {
        self.response()
            .and_then(|r| proto::ListActionSchemasResponse::decode(r).ok())
            .map(|r| r.schemas.into_iter().map(|s| s.name).collect())
            .unwrap_or_default()
    }
}

/// One upload received.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The task id of its metadata.
    pub task_id: String,
    /// The bytes, in order (empty after [`super::FakeControlPlane::discard_upload_bytes`]).
    pub bytes: Vec<u8>,
    /// How many bytes were received.
    pub size: u64,
    /// The chunk sizes.
    pub chunks: Vec<usize>,
    /// Whether the SHA-256 in its end message matched the bytes.
    pub checksum_ok: bool,
}

/// One Hello received.
#[derive(Debug, Clone, PartialEq)]
pub struct HelloSeen {
    /// Its task id (empty at start-up).
    pub task_id: String,
    /// The host id.
    pub host_id: String,
    /// The connector's display name.
    pub display_name: String,
    /// Capability values of each resource type, by type id.
    pub capabilities: Vec<(String, Vec<i32>)>,
    /// The connector-level capability values.
    pub connector_capabilities: Vec<i32>,
    /// The account-creation fields, when declared.
    pub account_fields: Vec<String>,
    /// Whether every build and OS string was non-empty.
    pub complete: bool,
    /// The build's package and version.
    pub package: (String, String),
}
