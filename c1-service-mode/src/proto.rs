//! The messages of baton's service mode (`c1.connectorapi.baton.v1`) and the `c1.connector.v2`
//! and `c1.config.v1` messages its tasks carry, written as prost structs from the published field
//! numbers (`docs/conductorone.md` names the reference). Only the fields this crate reads or
//! writes are declared; prost skips the others when decoding. A field holding a baton resource,
//! entitlement, grant, resource type or `Struct` is declared as `bytes` (the same wire format)
//! and read or written with `c1z::wire`.

#![allow(missing_docs, unreachable_pub)]

use prost_types::{Any, Duration};

/// `google.rpc.Status`
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, optional, tag = "3")]
    pub build_info: Option<BuildInfo>,
    #[prost(message, optional, tag = "4")]
    pub os_info: Option<OsInfo>,
    #[prost(message, optional, tag = "5")]
    pub connector_metadata: Option<ConnectorMetadata>,
    #[prost(message, repeated, tag = "6")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BuildInfo {
    #[prost(string, tag = "1")]
    pub lang_version: String,
    #[prost(string, tag = "2")]
    pub package: String,
    #[prost(string, tag = "3")]
    pub package_version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OsInfo {
    #[prost(string, tag = "1")]
    pub hostname: String,
    #[prost(string, tag = "2")]
    pub os: String,
    #[prost(string, tag = "3")]
    pub platform: String,
    #[prost(string, tag = "4")]
    pub platform_version: String,
    #[prost(string, tag = "5")]
    pub platform_family: String,
    #[prost(string, tag = "6")]
    pub kernel_version: String,
    #[prost(string, tag = "7")]
    pub kernel_arch: String,
    #[prost(string, tag = "8")]
    pub virtualization_system: String,
}

/// `HelloResponse`, `UploadAssetResponse` and `FinishTaskResponse`: annotations only.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Annotated {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetTaskRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetTaskResponse {
    #[prost(message, optional, tag = "1")]
    pub task: Option<Task>,
    #[prost(message, optional, tag = "2")]
    pub next_poll: Option<Duration>,
    #[prost(message, optional, tag = "3")]
    pub next_heartbeat: Option<Duration>,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Task {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(int32, tag = "2")]
    pub status: i32,
    #[prost(bool, tag = "3")]
    pub debug: bool,
    #[prost(
        oneof = "TaskType",
        tags = "100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123"
    )]
    pub task_type: Option<TaskType>,
}

/// The task payloads. Types this crate does not run are kept as bytes, to be named in the
/// answer.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum TaskType {
    #[prost(message, tag = "100")]
    None(Annotated),
    #[prost(message, tag = "101")]
    Hello(Annotated),
    #[prost(message, tag = "102")]
    SyncFull(SyncFullTask),
    #[prost(message, tag = "103")]
    Grant(GrantTask),
    #[prost(message, tag = "104")]
    Revoke(RevokeTask),
    #[prost(message, tag = "105")]
    CreateAccount(CreateAccountTask),
    #[prost(bytes, tag = "106")]
    CreateResource(Vec<u8>),
    #[prost(bytes, tag = "107")]
    DeleteResource(Vec<u8>),
    #[prost(bytes, tag = "108")]
    RotateCredentials(Vec<u8>),
    #[prost(bytes, tag = "109")]
    EventFeed(Vec<u8>),
    #[prost(bytes, tag = "110")]
    CreateTicket(Vec<u8>),
    #[prost(bytes, tag = "111")]
    ListTicketSchemas(Vec<u8>),
    #[prost(bytes, tag = "112")]
    GetTicket(Vec<u8>),
    #[prost(bytes, tag = "113")]
    BulkCreateTickets(Vec<u8>),
    #[prost(bytes, tag = "114")]
    BulkGetTickets(Vec<u8>),
    #[prost(message, tag = "115")]
    ActionListSchemas(ActionListSchemasTask),
    #[prost(message, tag = "116")]
    ActionGetSchema(ActionGetSchemaTask),
    #[prost(message, tag = "117")]
    ActionInvoke(ActionInvokeTask),
    #[prost(message, tag = "118")]
    ActionStatus(ActionStatusTask),
    #[prost(bytes, tag = "119")]
    CreateSyncDiff(Vec<u8>),
    #[prost(bytes, tag = "120")]
    CompactSyncs(Vec<u8>),
    #[prost(bytes, tag = "121")]
    ListEventFeeds(Vec<u8>),
    #[prost(bytes, tag = "122")]
    ListEvents(Vec<u8>),
    #[prost(bytes, tag = "123")]
    IssueCredential(Vec<u8>),
}

impl TaskType {
    /// The task type's name, as baton's protos spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None(_) => "none",
            Self::Hello(_) => "hello",
            Self::SyncFull(_) => "sync_full",
            Self::Grant(_) => "grant",
            Self::Revoke(_) => "revoke",
            Self::CreateAccount(_) => "create_account",
            Self::CreateResource(_) => "create_resource",
            Self::DeleteResource(_) => "delete_resource",
            Self::RotateCredentials(_) => "rotate_credentials",
            Self::EventFeed(_) => "event_feed",
            Self::CreateTicket(_) => "create_ticket_task",
            Self::ListTicketSchemas(_) => "list_ticket_schemas",
            Self::GetTicket(_) => "get_ticket",
            Self::BulkCreateTickets(_) => "bulk_create_tickets",
            Self::BulkGetTickets(_) => "bulk_get_tickets",
            Self::ActionListSchemas(_) => "action_list_schemas",
            Self::ActionGetSchema(_) => "action_get_schema",
            Self::ActionInvoke(_) => "action_invoke",
            Self::ActionStatus(_) => "action_status",
            Self::CreateSyncDiff(_) => "create_sync_diff",
            Self::CompactSyncs(_) => "compact_syncs",
            Self::ListEventFeeds(_) => "list_event_feeds",
            Self::ListEvents(_) => "list_events",
            Self::IssueCredential(_) => "issue_credential",
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SyncFullTask {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    #[prost(bool, tag = "2")]
    pub skip_expand_grants: bool,
    #[prost(bool, tag = "3")]
    pub skip_entitlements_and_grants: bool,
    /// `c1.connector.v2.Resource` each.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub targeted_sync_resources: Vec<Vec<u8>>,
    #[prost(string, repeated, tag = "5")]
    pub sync_resource_type_ids: Vec<String>,
    #[prost(bool, tag = "6")]
    pub skip_grants: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantTask {
    /// `c1.connector.v2.Entitlement`
    #[prost(bytes = "vec", tag = "1")]
    pub entitlement: Vec<u8>,
    /// `c1.connector.v2.Resource`
    #[prost(bytes = "vec", tag = "2")]
    pub principal: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "4")]
    pub duration: Option<Duration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RevokeTask {
    /// `c1.connector.v2.Grant`
    #[prost(bytes = "vec", tag = "1")]
    pub grant: Vec<u8>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateAccountTask {
    #[prost(message, optional, tag = "1")]
    pub account_info: Option<AccountInfo>,
    #[prost(bytes = "vec", tag = "2")]
    pub credential_options: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub encryption_configs: Vec<Vec<u8>>,
    #[prost(string, tag = "4")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountInfo {
    #[prost(message, repeated, tag = "1")]
    pub emails: Vec<AccountEmail>,
    #[prost(string, tag = "2")]
    pub login: String,
    #[prost(string, repeated, tag = "3")]
    pub login_aliases: Vec<String>,
    /// `google.protobuf.Struct`
    #[prost(bytes = "vec", tag = "4")]
    pub profile: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountEmail {
    #[prost(string, tag = "1")]
    pub address: String,
    #[prost(bool, tag = "2")]
    pub is_primary: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionListSchemasTask {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "2")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionGetSchemaTask {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionInvokeTask {
    #[prost(string, tag = "1")]
    pub name: String,
    /// `google.protobuf.Struct`
    #[prost(bytes = "vec", tag = "2")]
    pub args: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "4")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionStatusTask {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeartbeatRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeartbeatResponse {
    #[prost(message, optional, tag = "1")]
    pub next_heartbeat: Option<Duration>,
    #[prost(bool, tag = "2")]
    pub cancelled: bool,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadAssetRequest {
    #[prost(oneof = "UploadMsg", tags = "100, 101, 102")]
    pub msg: Option<UploadMsg>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum UploadMsg {
    #[prost(message, tag = "100")]
    Metadata(UploadMetadata),
    #[prost(message, tag = "101")]
    Data(UploadData),
    #[prost(message, tag = "102")]
    Eof(UploadEof),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadMetadata {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadData {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadEof {
    #[prost(bytes = "vec", tag = "1")]
    pub sha256_checksum: Vec<u8>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FinishTaskRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, optional, tag = "3")]
    pub status: Option<RpcStatus>,
    #[prost(oneof = "FinalState", tags = "100, 101")]
    pub final_state: Option<FinalState>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum FinalState {
    #[prost(message, tag = "100")]
    Error(FinishError),
    #[prost(message, tag = "101")]
    Success(FinishSuccess),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FinishError {
    #[prost(bool, tag = "1")]
    pub non_retryable: bool,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "3")]
    pub response: Option<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FinishSuccess {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "2")]
    pub response: Option<Any>,
}

// c1.connector.v2

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectorMetadata {
    #[prost(string, tag = "1")]
    pub display_name: String,
    #[prost(string, tag = "2")]
    pub help_url: String,
    #[prost(string, tag = "7")]
    pub description: String,
    #[prost(message, optional, tag = "8")]
    pub capabilities: Option<ConnectorCapabilities>,
    #[prost(message, optional, tag = "9")]
    pub account_creation_schema: Option<AccountCreationSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectorCapabilities {
    #[prost(message, repeated, tag = "1")]
    pub resource_type_capabilities: Vec<ResourceTypeCapability>,
    #[prost(int32, repeated, tag = "2")]
    pub connector_capabilities: Vec<i32>,
    #[prost(message, optional, tag = "3")]
    pub credential_details: Option<CredentialDetails>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceTypeCapability {
    /// `c1.connector.v2.ResourceType`
    #[prost(bytes = "vec", tag = "1")]
    pub resource_type: Vec<u8>,
    #[prost(int32, repeated, tag = "2")]
    pub capabilities: Vec<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialDetails {
    #[prost(message, optional, tag = "1")]
    pub capability_account_provisioning: Option<CredentialDetail>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialDetail {
    #[prost(int32, repeated, tag = "1")]
    pub supported_credential_options: Vec<i32>,
    #[prost(int32, tag = "2")]
    pub preferred_credential_option: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountCreationSchema {
    #[prost(btree_map = "string, message", tag = "1")]
    pub field_map: std::collections::BTreeMap<String, AccountField>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountField {
    #[prost(string, tag = "1")]
    pub display_name: String,
    #[prost(bool, tag = "2")]
    pub required: bool,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub placeholder: String,
    #[prost(int32, tag = "5")]
    pub order: i32,
    #[prost(bool, tag = "6")]
    pub deprecated: bool,
    #[prost(oneof = "AccountFieldKind", tags = "100, 101, 102, 103")]
    pub field: Option<AccountFieldKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum AccountFieldKind {
    #[prost(message, tag = "100")]
    String(Empty),
    #[prost(message, tag = "101")]
    Bool(Empty),
    #[prost(message, tag = "102")]
    StringList(Empty),
    #[prost(message, tag = "103")]
    Int(Empty),
}

/// A message with no fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    /// `c1.connector.v2.Grant`
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub grants: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateAccountResponse {
    #[prost(oneof = "AccountResult", tags = "100, 101, 102")]
    pub result: Option<AccountResult>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum AccountResult {
    #[prost(message, tag = "100")]
    Success(AccountResource),
    #[prost(message, tag = "101")]
    ActionRequired(AccountResource),
    #[prost(message, tag = "102")]
    AlreadyExists(AccountResource),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountResource {
    /// `c1.connector.v2.Resource`
    #[prost(bytes = "vec", tag = "1")]
    pub resource: Vec<u8>,
    #[prost(bool, tag = "2")]
    pub is_create_account_result: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListActionSchemasResponse {
    #[prost(message, repeated, tag = "1")]
    pub schemas: Vec<ActionSchema>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetActionSchemaResponse {
    #[prost(message, optional, tag = "1")]
    pub schema: Option<ActionSchema>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub arguments: Vec<ConfigField>,
    #[prost(string, tag = "5")]
    pub display_name: String,
    #[prost(string, tag = "6")]
    pub description: String,
}

/// `c1.config.v1.Field`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigField {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(bool, tag = "5")]
    pub is_required: bool,
    #[prost(oneof = "ConfigFieldKind", tags = "100, 101, 102, 103")]
    pub field: Option<ConfigFieldKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ConfigFieldKind {
    #[prost(message, tag = "100")]
    String(Empty),
    #[prost(message, tag = "101")]
    Int(Empty),
    #[prost(message, tag = "102")]
    Bool(Empty),
    #[prost(message, tag = "103")]
    StringSlice(Empty),
}

/// `InvokeActionResponse` and `GetActionStatusResponse` (the same fields, numbered apart).
#[derive(Clone, PartialEq, prost::Message)]
pub struct InvokeActionResponse {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(int32, tag = "2")]
    pub status: i32,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    /// `google.protobuf.Struct`
    #[prost(bytes = "vec", tag = "4")]
    pub response: Vec<u8>,
    #[prost(string, tag = "5")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetActionStatusResponse {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(int32, tag = "3")]
    pub status: i32,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    /// `google.protobuf.Struct`
    #[prost(bytes = "vec", tag = "5")]
    pub response: Vec<u8>,
}

/// Capability values (`c1.connector.v2.Capability`).
pub mod capability {
    pub const PROVISION: i32 = 1;
    pub const SYNC: i32 = 2;
    pub const ACCOUNT_PROVISIONING: i32 = 5;
    pub const ACTIONS: i32 = 10;
}

/// `CapabilityDetailCredentialOption.NO_PASSWORD`
pub const CREDENTIAL_NO_PASSWORD: i32 = 1;

/// `BatonActionStatus.COMPLETE`
pub const ACTION_COMPLETE: i32 = 4;

/// gRPC status codes this crate sends.
pub mod code {
    pub const CANCELLED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// An `Any` of `message`, named `c1.connector.v2.<name>`.
pub fn any(name: &str, value: Vec<u8>) -> Any {
    Any {
        type_url: format!("type.googleapis.com/{name}"),
        value,
    }
}

/// The full paths of `BatonService`'s methods.
pub mod path {
    pub const HELLO: &str = "/c1.connectorapi.baton.v1.BatonService/Hello";
    pub const GET_TASK: &str = "/c1.connectorapi.baton.v1.BatonService/GetTask";
    pub const HEARTBEAT: &str = "/c1.connectorapi.baton.v1.BatonService/Heartbeat";
    pub const FINISH_TASK: &str = "/c1.connectorapi.baton.v1.BatonService/FinishTask";
    pub const UPLOAD_ASSET: &str = "/c1.connectorapi.baton.v1.BatonService/UploadAsset";
}
